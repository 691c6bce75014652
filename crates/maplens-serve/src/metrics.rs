//! The metrics: a `prometheus-client` [`Collector`] that encodes the last
//! complete [`Collection`] on every scrape, in the Prometheus text format
//! (0.0.4) or OpenMetrics 1.0.
//!
//! Names follow node_exporter and process-exporter: `maplens_` then the
//! subject (`group_`), then the figure, then the unit (`_bytes`,
//! `_seconds`). Every per-process figure is summed into a group; the only
//! labels are `group`, `category`, `id`, `severity` and `reason`, so the
//! number of series is bounded by the configuration, not by the number of
//! processes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::collect::{Collection, GroupFigures, Shared};

/// The two formats a scrape can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain`).
    Text,
    /// OpenMetrics 1.0 (`application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// Picks the format from an `Accept` header: OpenMetrics when it is
    /// accepted with a higher (or equal, when listed first) weight than
    /// `text/plain`, else the text format.
    ///
    /// ```
    /// use maplens_serve::metrics::Format;
    /// let prom = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
    /// assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
    /// assert_eq!(Format::negotiate(None), Format::Text);
    /// ```
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let (mut om, mut text) = (None::<f32>, None::<f32>);
        for part in accept.split(',') {
            let mut it = part.split(';');
            let mime = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version_ok = true;
            for p in it {
                let p = p.trim();
                if let Some(v) = p.strip_prefix("q=") {
                    q = v.trim().parse().unwrap_or(0.0);
                } else if let Some(v) = p.strip_prefix("version=") {
                    // prometheus-client writes OpenMetrics 1.0.0.
                    version_ok = mime != "application/openmetrics-text" || v.starts_with("1.");
                }
            }
            let slot = match mime.as_str() {
                "application/openmetrics-text" if version_ok => &mut om,
                "text/plain" | "*/*" | "text/*" => &mut text,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |o| o.max(q)));
        }
        match (om, text) {
            (Some(o), Some(t)) if o >= t && o > 0.0 => Format::OpenMetrics,
            (Some(o), None) if o > 0.0 => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// How long the last `/metrics` response took to encode, nanoseconds.
static LAST_SCRAPE_NS: AtomicU64 = AtomicU64::new(0);

/// Records how long encoding a scrape took (the next scrape exports it).
pub fn record_scrape(took: Duration) {
    LAST_SCRAPE_NS.store(took.as_nanos() as u64, Ordering::Relaxed);
}

/// The registry the server encodes: one collector over the shared state.
pub fn registry(shared: Shared) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(Metrics { shared }));
    r
}

/// Encodes the registry in a format.
pub fn encode(registry: &Registry, format: Format) -> Result<String, std::fmt::Error> {
    let mut out = String::with_capacity(16 << 10);
    match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?,
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, registry)?,
    }
    Ok(out)
}

/// The collector over the last complete collection.
#[derive(Debug)]
struct Metrics {
    shared: Shared,
}

/// One figure of a group, as a metric.
struct GroupMetric {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    value: fn(&GroupFigures) -> Option<f64>,
}

/// Encodes a gauge: integers as integers (byte counts read exactly),
/// anything else as a float.
fn gauge(v: f64, me: prometheus_client::encoding::MetricEncoder<'_>) -> std::fmt::Result {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        ConstGauge::new(v as i64).encode(me)
    } else {
        ConstGauge::new(v).encode(me)
    }
}

fn b(v: u64) -> Option<f64> {
    Some(v as f64)
}

const GROUP_METRICS: &[GroupMetric] = &[
    GroupMetric {
        name: "maplens_group_pss",
        help: "Proportional set size of the group's processes (smaps_rollup Pss)",
        unit: Some(Unit::Bytes),
        value: |g| b(g.pss),
    },
    GroupMetric {
        name: "maplens_group_uss",
        help: "Unique set size of the group's processes (Private_Clean + Private_Dirty)",
        unit: Some(Unit::Bytes),
        value: |g| b(g.uss),
    },
    GroupMetric {
        name: "maplens_group_rss",
        help: "Resident set size of the group's processes (shared pages in each)",
        unit: Some(Unit::Bytes),
        value: |g| b(g.rss),
    },
    GroupMetric {
        name: "maplens_group_swap",
        help: "Swapped-out memory of the group's processes",
        unit: Some(Unit::Bytes),
        value: |g| b(g.swap),
    },
    GroupMetric {
        name: "maplens_group_swap_pss",
        help: "Proportional share of swap of the group's processes (SwapPss)",
        unit: Some(Unit::Bytes),
        value: |g| b(g.swap_pss),
    },
    GroupMetric {
        name: "maplens_group_anon_pss",
        help: "Anonymous part of the group's PSS (Pss_Anon: heap, arenas, anonymous mmap)",
        unit: Some(Unit::Bytes),
        value: |g| b(g.pss_anon),
    },
    GroupMetric {
        name: "maplens_group_processes",
        help: "Processes in the group",
        unit: None,
        value: |g| b(g.processes),
    },
    GroupMetric {
        name: "maplens_group_threads",
        help: "Threads of the group's processes",
        unit: None,
        value: |g| b(g.threads),
    },
    GroupMetric {
        name: "maplens_group_full_processes",
        help: "Processes of the group read in full smaps (the ones behind categories, stacks, arenas, regions and findings)",
        unit: None,
        value: |g| b(g.full_processes),
    },
    GroupMetric {
        name: "maplens_group_thread_stack_reserved",
        help: "Address space reserved for thread stacks (the report's thread stacks, virtual size)",
        unit: Some(Unit::Bytes),
        value: |g| b(g.stack_reserved),
    },
    GroupMetric {
        name: "maplens_group_thread_stack_resident",
        help: "Resident part of the thread stacks",
        unit: Some(Unit::Bytes),
        value: |g| b(g.stack_resident),
    },
    GroupMetric {
        name: "maplens_group_glibc_arenas",
        help: "glibc malloc arenas besides the main one",
        unit: None,
        value: |g| b(g.arenas),
    },
    GroupMetric {
        name: "maplens_group_regions",
        help: "Memory regions (mappings) of the group's processes",
        unit: None,
        value: |g| b(g.regions),
    },
    GroupMetric {
        name: "maplens_group_process_regions_max",
        help: "Most regions of one process of the group (compare with vm.max_map_count)",
        unit: None,
        value: |g| b(g.regions_max),
    },
    GroupMetric {
        name: "maplens_group_anon_growth",
        help: "Theil-Sen slope of the group's anonymous PSS over the last hour of collections, bytes per second",
        unit: None,
        value: |g| g.anon_growth.map(|(s, _)| s),
    },
    GroupMetric {
        name: "maplens_group_anon_growing",
        help: "1 when the group's anonymous PSS grew steadily over the last hour of collections (the leaks trend), else 0",
        unit: None,
        value: |g| g.anon_growth.map(|(_, grows)| f64::from(u8::from(grows))),
    },
];

impl Collector for Metrics {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let c: Arc<Collection> = self
            .shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let label = |g: &str| maplens_core::text::escape(g.as_bytes()).into_owned();
        let groups: Vec<(String, &GroupFigures)> =
            c.groups.iter().map(|(n, g)| (label(n), g)).collect();

        for m in GROUP_METRICS {
            let mut me =
                enc.encode_descriptor(m.name, m.help, m.unit.as_ref(), MetricType::Gauge)?;
            for (name, g) in &groups {
                if let Some(v) = (m.value)(g) {
                    gauge(v, me.encode_family(&[("group", name.as_str())])?)?;
                }
            }
        }
        // Per group and category.
        for (metric, help, pick) in [
            (
                "maplens_group_category_pss",
                "PSS of the group by the report's category (full smaps reads)",
                2usize,
            ),
            (
                "maplens_group_category_rss",
                "RSS of the group by the report's category (full smaps reads)",
                1,
            ),
            (
                "maplens_group_category_virtual",
                "Address space of the group by the report's category (full smaps reads)",
                0,
            ),
        ] {
            let mut me =
                enc.encode_descriptor(metric, help, Some(&Unit::Bytes), MetricType::Gauge)?;
            for (name, g) in &groups {
                for (cat, f) in &g.categories {
                    let v = [f.0, f.1, f.2][pick];
                    gauge(
                        v as f64,
                        me.encode_family(&[("group", name.as_str()), ("category", cat.as_str())])?,
                    )?;
                }
            }
        }
        {
            let mut me = enc.encode_descriptor(
                "maplens_group_findings",
                "Findings of maplens check (severity low and up) in the group's processes, by rule id and severity",
                None,
                MetricType::Gauge,
            )?;
            for (name, g) in &groups {
                for ((id, sev), n) in &g.findings {
                    gauge(
                        *n as f64,
                        me.encode_family(&[
                            ("group", name.as_str()),
                            ("id", id),
                            ("severity", sev),
                        ])?,
                    )?;
                }
            }
        }
        let age = |ms: u64| now_ms.saturating_sub(ms) as f64 / 1000.0;
        for (metric, help, f) in [
            (
                "maplens_group_oldest_sample_age",
                "Age of the oldest totals in the group (processes above the rollup size limit keep their last figures)",
                (|g: &GroupFigures| Some(g.oldest_totals_ms)) as fn(&GroupFigures) -> Option<u64>,
            ),
            (
                "maplens_group_oldest_full_sample_age",
                "Age of the oldest full smaps figures in the group (categories, stacks, arenas, regions, findings)",
                |g: &GroupFigures| g.oldest_full_ms,
            ),
        ] {
            let mut me =
                enc.encode_descriptor(metric, help, Some(&Unit::Seconds), MetricType::Gauge)?;
            for (name, g) in &groups {
                if let Some(ms) = f(g) {
                    gauge(age(ms), me.encode_family(&[("group", name.as_str())])?)?;
                }
            }
        }
        if let Some(m) = c.max_map_count {
            let me = enc.encode_descriptor(
                "maplens_vm_max_map_regions",
                "vm.max_map_count: the most regions a process may have",
                None,
                MetricType::Gauge,
            )?;
            gauge(m as f64, me)?;
            let mut me = enc.encode_descriptor(
                "maplens_group_map_count_headroom",
                "vm.max_map_count minus the most regions of one process of the group",
                None,
                MetricType::Gauge,
            )?;
            for (name, g) in &groups {
                if g.full_processes > 0 {
                    let h = m as f64 - g.regions_max as f64;
                    gauge(h, me.encode_family(&[("group", name.as_str())])?)?;
                }
            }
        }
        // The exporter itself.
        let sample_age = c
            .finished
            .map_or(f64::NAN, |t| Instant::now().duration_since(t).as_secs_f64());
        for (metric, help, unit, v) in [
            (
                "maplens_sample_age",
                "Seconds since the served collection completed (NaN before the first)",
                Some(Unit::Seconds),
                sample_age,
            ),
            (
                "maplens_last_scrape_duration",
                "How long the previous /metrics response took to encode",
                Some(Unit::Seconds),
                LAST_SCRAPE_NS.load(Ordering::Relaxed) as f64 / 1e9,
            ),
            (
                "maplens_collection_duration",
                "How long the served collection took",
                Some(Unit::Seconds),
                c.duration.as_secs_f64(),
            ),
            (
                "maplens_collection_skipped_processes",
                "Processes the served collection did not reach within its time budget (previous figures kept)",
                None,
                c.skipped as f64,
            ),
            (
                "maplens_collection_full_reads",
                "Processes the served collection read in full smaps",
                None,
                c.full_reads as f64,
            ),
            (
                "maplens_processes",
                "Processes listed by the served collection",
                None,
                c.processes as f64,
            ),
            (
                "maplens_exporter_resident_memory",
                "The exporter's own resident set size at the end of the served collection",
                Some(Unit::Bytes),
                c.own_rss as f64,
            ),
        ] {
            let me = enc.encode_descriptor(metric, help, unit.as_ref(), MetricType::Gauge)?;
            gauge(v, me)?;
        }
        {
            let mut me = enc.encode_descriptor(
                "maplens_unreadable_processes",
                "Processes the served collection could not read, by reason",
                None,
                MetricType::Gauge,
            )?;
            // The usual three always (0 included), then any other reason
            // the collection met, so that none is dropped.
            const USUAL: [&str; 3] = ["permission-denied", "zombie", "error"];
            let others = c.unreadable.keys().copied().filter(|r| !USUAL.contains(r));
            for reason in USUAL.into_iter().chain(others) {
                let n = c.unreadable.get(reason).copied().unwrap_or(0);
                gauge(n as f64, me.encode_family(&[("reason", reason)])?)?;
            }
        }
        let me = enc.encode_descriptor(
            "maplens_collections",
            "Collections completed",
            None,
            MetricType::Counter,
        )?;
        ConstCounter::new(c.number).encode(me)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::GroupFigures;
    use std::sync::RwLock;

    fn shared() -> Shared {
        let mut c = Collection {
            finished: Some(Instant::now()),
            number: 3,
            max_map_count: Some(65530),
            ..Collection::default()
        };
        let mut g = GroupFigures {
            processes: 2,
            pss: 4096,
            full_processes: 1,
            regions_max: 30,
            ..GroupFigures::default()
        };
        g.categories.insert("heap".into(), (8192, 4096, 2048));
        g.findings.insert(("wx-mapping", "high"), 1);
        c.groups.insert("we\"ird\nname\x1b".into(), g);
        Arc::new(RwLock::new(Arc::new(c)))
    }

    #[test]
    fn both_formats_carry_the_figures() {
        let r = registry(shared());
        let text = encode(&r, Format::Text).unwrap();
        let om = encode(&r, Format::OpenMetrics).unwrap();
        for out in [&text, &om] {
            assert!(
                out.contains("maplens_group_pss_bytes{group=\"we\\\"ird\\\\012name\\\\x1b\"} 4096"),
                "{out}"
            );
            assert!(out.contains(
                "maplens_group_category_pss_bytes{group=\"we\\\"ird\\\\012name\\\\x1b\",category=\"heap\"} 2048"
            ));
            assert!(out.contains(
                "maplens_group_map_count_headroom{group=\"we\\\"ird\\\\012name\\\\x1b\"} 65500"
            ));
            assert!(out.contains("maplens_collections_total 3"));
        }
        assert!(om.ends_with("# EOF\n"));
        assert!(!text.contains("# EOF"));
        assert!(om.contains("# UNIT maplens_group_pss_bytes bytes"));
    }
}
