//! Parse cost on real documents: `parse_feed` over a corpus held in memory,
//! split into the documents feed-rs reads as they are (the common,
//! well-formed path) and those it does not (damaged XML, old dialects: the
//! recovery path). Prints the median of several passes for each set.
//!
//! ```sh
//! cargo build --release --example parse_bench
//! target/release/examples/parse_bench ../shared/corpus/realworld 15
//! ```
//!
//! Uses only `parse_feed`'s signature, so that the same file builds against
//! an older commit for a before/after comparison (BENCHMARKS.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use feedwire::parse::{parse_feed, FeedRef, Limits};
use url::Url;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| matches!(e.to_str(), Some("xml" | "rss" | "rdf" | "atom")))
        {
            out.push(p);
        }
    }
}

/// Median wall time of `runs` passes of `parse_feed` over `docs`, and the
/// items they yielded in one pass.
fn time(docs: &[Vec<u8>], runs: usize) -> (Duration, usize) {
    let url = Url::parse("https://bench.example/feed.xml").unwrap();
    let now = Utc.timestamp_opt(1_750_000_000, 0).unwrap();
    let mut times = Vec::new();
    let mut items = 0;
    for _ in 0..runs {
        items = 0;
        let start = Instant::now();
        for d in docs {
            if let Ok(p) = parse_feed(
                FeedRef {
                    url: &url,
                    name: "bench",
                },
                d,
                None,
                now,
                Limits::default(),
            ) {
                items += p.items.len();
            }
        }
        times.push(start.elapsed());
    }
    times.sort();
    (times[times.len() / 2], items)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "../shared/corpus/realworld".into()));
    let runs: usize = args.next().map_or(15, |r| r.parse().expect("runs"));
    let mut files = Vec::new();
    walk(&dir, &mut files);
    let (mut strict, mut recovery) = (Vec::new(), Vec::new());
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        // feed-rs alone, as the strict path sees the document.
        match feed_rs::parser::parse(&bytes[..]) {
            Ok(feed) if !feed.entries.is_empty() => strict.push(bytes),
            _ => recovery.push(bytes),
        }
    }
    for (name, docs) in [
        ("well-formed (feed-rs reads them)", &strict),
        ("needing recovery", &recovery),
    ] {
        let bytes: usize = docs.iter().map(Vec::len).sum();
        let (t, items) = time(docs, runs);
        println!(
            "{name}: {} documents, {:.1} MB, {items} items: median {:.1} ms per pass ({:.1} MB/s, {:.0} µs per document) over {runs} passes",
            docs.len(),
            bytes as f64 / 1e6,
            t.as_secs_f64() * 1e3,
            bytes as f64 / 1e6 / t.as_secs_f64(),
            t.as_secs_f64() * 1e6 / docs.len().max(1) as f64,
        );
    }
}
