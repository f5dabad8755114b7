//! Prometheus metrics (`GET /metrics`), with the official `prometheus-client`.
//!
//! Fed from the poller's reports, the renderer and the server; the store's
//! size is read at scrape time. Names are an interface (README lists them).
//!
//! Per-feed series are few and flat: with 100,000 feeds every series a feed
//! carries is 100,000 lines of every scrape. A feed has counters and one
//! gauge (fetches by result, bytes, items by kind, failures in a row);
//! distributions (`fetch_duration_seconds`) are one histogram over all
//! feeds. A per-feed histogram was 15 lines per feed: 100 of the 151 MB a
//! scrape weighed at 100,000 feeds (BENCHMARKS.md, Run 6).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::poller::{FeedReport, Outcome};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedLabels {
    pub feed: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FetchLabels {
    pub feed: String,
    /// `updated`, `not_modified` or `failed`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ItemLabels {
    pub feed: String,
    /// `new` or `duplicate`.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DocumentLabels {
    pub output: String,
    pub format: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutputLabels {
    pub output: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `document`, `status`, `metrics`, `health`, `page` or `other`.
    pub route: String,
    pub status: u16,
}

/// Every metric feedwire exports.
pub struct Metrics {
    registry: Registry,
    fetches: Family<FetchLabels, Counter>,
    fetch_seconds: Histogram,
    fetch_bytes: Family<FeedLabels, Counter>,
    items: Family<ItemLabels, Counter>,
    consecutive_failures: Family<FeedLabels, Gauge>,
    gaps: Family<FeedLabels, Counter>,
    store_items: Gauge,
    store_bytes: Gauge,
    render_seconds: Histogram,
    output_bytes: Family<DocumentLabels, Gauge>,
    output_items: Family<OutputLabels, Gauge>,
    output_clusters: Family<OutputLabels, Gauge>,
    output_clustered_items: Family<OutputLabels, Gauge>,
    output_span: Family<OutputLabels, Gauge>,
    requests: Family<RequestLabels, Counter>,
    full_text: Family<FetchLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("feedwire");
        let fetches = Family::<FetchLabels, Counter>::default();
        registry.register("fetches", "Feed fetches by result", fetches.clone());
        let fetch_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        registry.register(
            "fetch_duration_seconds",
            "Time to fetch, parse and store one feed (all feeds)",
            fetch_seconds.clone(),
        );
        let fetch_bytes = Family::<FeedLabels, Counter>::default();
        registry.register(
            "fetch_bytes",
            "Feed document bytes received (after decompression)",
            fetch_bytes.clone(),
        );
        let items = Family::<ItemLabels, Counter>::default();
        registry.register(
            "items",
            "Items seen in feed documents, new or duplicate",
            items.clone(),
        );
        let consecutive_failures = Family::<FeedLabels, Gauge>::default();
        registry.register(
            "feed_consecutive_failures",
            "Failures in a row per feed",
            consecutive_failures.clone(),
        );
        let gaps = Family::<FeedLabels, Counter>::default();
        registry.register(
            "feed_gaps",
            "Polls whose document held none of the entries of the poll before (entries published in between may have been missed)",
            gaps.clone(),
        );
        let store_items = Gauge::default();
        registry.register("store_items", "Items in the store", store_items.clone());
        let store_bytes = Gauge::default();
        registry.register(
            "store_size_bytes",
            "Store size on disk as sled counts it",
            store_bytes.clone(),
        );
        let render_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register(
            "render_duration_seconds",
            "Time to render every output",
            render_seconds.clone(),
        );
        let output_bytes = Family::<DocumentLabels, Gauge>::default();
        registry.register(
            "output_size_bytes",
            "Size of each rendered document",
            output_bytes.clone(),
        );
        let full_text = Family::<FetchLabels, Gauge>::default();
        registry.register(
            "full_text_items",
            "Items of full_text feeds by extraction result (extracted, failed, fallback), since the store was created",
            full_text.clone(),
        );
        let output_items = Family::<OutputLabels, Gauge>::default();
        registry.register("output_items", "Items in each output", output_items.clone());
        let output_span = Family::<OutputLabels, Gauge>::default();
        registry.register(
            "output_span_seconds",
            "Seconds between the newest and the oldest item of each full output (how long an item stays in it)",
            output_span.clone(),
        );
        let output_clusters = Family::<OutputLabels, Gauge>::default();
        registry.register(
            "output_clusters",
            "Stories carried by more than one outlet in each clustered output",
            output_clusters.clone(),
        );
        let output_clustered_items = Family::<OutputLabels, Gauge>::default();
        registry.register(
            "output_clustered_items",
            "Items merged into another outlet's story entry",
            output_clustered_items.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served by route and status",
            requests.clone(),
        );
        Metrics {
            registry,
            fetches,
            fetch_seconds,
            fetch_bytes,
            items,
            consecutive_failures,
            gaps,
            store_items,
            store_bytes,
            render_seconds,
            output_bytes,
            output_items,
            output_span,
            output_clusters,
            output_clustered_items,
            requests,
            full_text,
        }
    }

    /// Sets a `full_text` feed's extraction counts (read from the store at
    /// scrape time, so they survive restarts).
    pub fn record_full_text(&self, feed: &str, stats: &crate::store::FullTextStats) {
        for (result, n) in [
            ("extracted", stats.extracted),
            ("failed", stats.failed),
            ("fallback", stats.fallback),
        ] {
            self.full_text
                .get_or_create(&FetchLabels {
                    feed: feed.to_owned(),
                    result: result.into(),
                })
                .set(n.min(i64::MAX as u64) as i64);
        }
    }

    /// Records one feed poll.
    pub fn record_poll(&self, r: &FeedReport) {
        let feed = r.name.clone();
        let result = match &r.outcome {
            Outcome::NotModified => "not_modified",
            Outcome::Updated { ingest, notes, .. } => {
                self.items
                    .get_or_create(&ItemLabels {
                        feed: feed.clone(),
                        kind: "new".into(),
                    })
                    .inc_by(ingest.new as u64);
                self.items
                    .get_or_create(&ItemLabels {
                        feed: feed.clone(),
                        kind: "duplicate".into(),
                    })
                    .inc_by(ingest.duplicate as u64);
                // Rare: each series appears with the first such entry
                // rather than as a zero on every feed.
                for (kind, n) in [
                    ("too_old", notes.too_old),
                    ("over_limit", notes.over_limit),
                    ("empty", notes.empty),
                    ("revised", ingest.revised),
                    // Entries a gap's next pages gave back (counted as
                    // new or duplicate too).
                    ("recovered", r.recovery.as_ref().map_or(0, |rec| rec.entries)),
                ] {
                    if n > 0 {
                        self.items
                            .get_or_create(&ItemLabels {
                                feed: feed.clone(),
                                kind: kind.into(),
                            })
                            .inc_by(n as u64);
                    }
                }
                // A document with entries but none understood is not a
                // plain success; one that needed repair says so too.
                if notes.no_entries.is_some() {
                    "no_entries"
                } else if notes.repaired.is_some() {
                    "repaired"
                } else {
                    "updated"
                }
            }
            Outcome::Failed { .. } => "failed",
        };
        self.fetches
            .get_or_create(&FetchLabels {
                feed: feed.clone(),
                result: result.into(),
            })
            .inc();
        let labels = FeedLabels { feed };
        if r.gap {
            // Rare: the series appears with the feed's first gap.
            self.gaps.get_or_create(&labels).inc();
        }
        self.fetch_seconds.observe(r.duration.as_secs_f64());
        self.fetch_bytes.get_or_create(&labels).inc_by(r.bytes);
        self.consecutive_failures
            .get_or_create(&labels)
            .set(i64::from(r.consecutive_failures));
    }

    /// Records a render of every output.
    pub fn record_render(
        &self,
        took: Duration,
        documents: &[(String, String, usize)],
        items: &[(String, usize)],
    ) {
        self.render_seconds.observe(took.as_secs_f64());
        for (output, format, bytes) in documents {
            self.output_bytes
                .get_or_create(&DocumentLabels {
                    output: output.clone(),
                    format: format.clone(),
                })
                .set(*bytes as i64);
        }
        for (output, n) in items {
            self.output_items
                .get_or_create(&OutputLabels {
                    output: output.clone(),
                })
                .set(*n as i64);
        }
    }

    /// Records how long items stay in each output: a full output's span
    /// (see `RenderedOutput::span`); an output that is not full has none.
    pub fn record_span(&self, output: &str, span: Option<i64>) {
        let labels = OutputLabels {
            output: output.into(),
        };
        match span {
            Some(s) => {
                self.output_span.get_or_create(&labels).set(s);
            }
            None => {
                self.output_span.remove(&labels);
            }
        }
    }

    /// Records an output's story clusters and merged items.
    pub fn record_clusters(&self, output: &str, clusters: usize, merged: usize) {
        let labels = OutputLabels {
            output: output.into(),
        };
        self.output_clusters.get_or_create(&labels).set(clusters as i64);
        self.output_clustered_items
            .get_or_create(&labels)
            .set(merged as i64);
    }

    pub fn record_request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.into(),
                status,
            })
            .inc();
    }

    /// The exposition text, with the store figures read now.
    pub fn encode(&self, store_items: usize, store_bytes: u64) -> String {
        self.store_items.set(store_items as i64);
        self.store_bytes.set(store_bytes.min(i64::MAX as u64) as i64);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::IngestReport;

    #[test]
    fn exposition_has_every_family() {
        let m = Metrics::new();
        m.record_poll(&FeedReport {
            url: "https://a.example/rss".into(),
            name: "الجزيرة".into(),
            outcome: Outcome::Updated {
                items: 3,
                ingest: IngestReport {
                    new: 2,
                    duplicate: 1,
                    merged: 0,
                    revised: 1,
                },
                notes: Default::default(),
            },
            next_due: None,
            duration: Duration::from_millis(30),
            bytes: 1234,
            consecutive_failures: 0,
            site_changed: false,
            gap: true,
            recovery: Some(Box::new(crate::poller::pages::Recovery {
                pages: 2,
                entries: 15,
                overlap: true,
                ..Default::default()
            })),
        });
        m.record_render(
            Duration::from_millis(5),
            &[("politics".into(), "rss".into(), 999)],
            &[("politics".into(), 3)],
        );
        m.record_request("document", 304);
        // A document with entries but none understood, and one with old entries.
        for (name, notes) in [
            (
                "heise",
                crate::poller::ParseNotes {
                    no_entries: Some("root <rdf:RDF>".into()),
                    ..Default::default()
                },
            ),
            (
                "archive",
                crate::poller::ParseNotes {
                    repaired: Some("1 stray '&'".into()),
                    too_old: 4,
                    over_limit: 7,
                    empty: 1,
                    ..Default::default()
                },
            ),
        ] {
            m.record_poll(&FeedReport {
                url: format!("https://{name}.example/rss"),
                name: name.into(),
                outcome: Outcome::Updated {
                    items: 0,
                    ingest: IngestReport::default(),
                    notes,
                },
                next_due: None,
                duration: Duration::from_millis(5),
                bytes: 10,
                consecutive_failures: 0,
                site_changed: false,
                gap: false,
                recovery: None,
            });
        }
        let text = m.encode(10, 4096);
        for line in [
            "feedwire_fetches_total{feed=\"الجزيرة\",result=\"updated\"} 1",
            "feedwire_items_total{feed=\"الجزيرة\",kind=\"new\"} 2",
            "feedwire_fetch_bytes_total{feed=\"الجزيرة\"} 1234",
            "feedwire_store_items 10",
            "feedwire_store_size_bytes 4096",
            "feedwire_output_size_bytes{output=\"politics\",format=\"rss\"} 999",
            "feedwire_http_requests_total{route=\"document\",status=\"304\"} 1",
            "feedwire_fetch_duration_seconds_count 3",
            "feedwire_fetches_total{feed=\"heise\",result=\"no_entries\"} 1",
            "feedwire_fetches_total{feed=\"archive\",result=\"repaired\"} 1",
            "feedwire_items_total{feed=\"archive\",kind=\"too_old\"} 4",
            "feedwire_items_total{feed=\"archive\",kind=\"over_limit\"} 7",
            "feedwire_items_total{feed=\"archive\",kind=\"empty\"} 1",
            "feedwire_feed_gaps_total{feed=\"الجزيرة\"} 1",
            "feedwire_items_total{feed=\"الجزيرة\",kind=\"recovered\"} 15",
            "feedwire_items_total{feed=\"الجزيرة\",kind=\"revised\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn per_feed_series_are_few_and_durations_aggregated() {
        let m = Metrics::new();
        let n = 1000;
        for i in 0..n {
            let name = format!("منفذ {i}");
            for outcome in [
                Outcome::Updated {
                    items: 15,
                    ingest: IngestReport {
                        new: 12,
                        duplicate: 3,
                        merged: 0,
                        revised: 0,
                    },
                    notes: Default::default(),
                },
                Outcome::NotModified,
            ] {
                m.record_poll(&FeedReport {
                    url: format!("https://f{i}.example/rss"),
                    name: name.clone(),
                    outcome,
                    next_due: None,
                    duration: Duration::from_millis(40 + i as u64),
                    bytes: 13_000,
                    consecutive_failures: 0,
                    site_changed: false,
                    gap: false,
                    recovery: None,
                });
            }
        }
        let text = m.encode(0, 0);
        let per_feed = text.lines().filter(|l| l.contains("feed=\"")).count();
        // fetches (updated, not_modified), bytes, items (new, duplicate),
        // failures in a row: six series, however many polls.
        assert_eq!(per_feed, 6 * n, "{}", &text[..2000]);
        for kind in ["too_old", "over_limit", "empty", "revised"] {
            assert!(!text.contains(kind), "no zero {kind} series");
        }
        assert!(!text.contains("feedwire_feed_gaps_total{"), "no zero gap series");
        assert!(text.contains(&format!("feedwire_fetch_duration_seconds_count {}", 2 * n)));
        assert!(!text.contains("feedwire_fetch_duration_seconds_bucket{feed"));
    }
}
