//! Parse cost on real documents: `parse_feed` over a corpus held in memory,
//! split into the documents feed-rs reads as they are (the common,
//! well-formed path) and those it does not (damaged XML, old dialects: the
//! recovery path). Prints the median CPU time of several passes for each
//! set (CPU time, not wall time: the benchmark machine is shared).
//!
//! ```sh
//! cargo build --release --example parse_bench
//! target/release/examples/parse_bench ../shared/corpus/realworld 15
//! target/release/examples/parse_bench --hostile   # repair cost vs size
//! ```
//!
//! Uses only `parse_feed`'s signature, so that the same file builds against
//! an older commit for a before/after comparison (BENCHMARKS.md).

use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use feedwire::parse::{parse_feed, FeedRef, Limits};
use url::Url;

#[path = "support/corpus.rs"]
mod corpus;

/// CPU time this thread has run (Linux `/proc/thread-self/schedstat`, in
/// nanoseconds): on a machine shared with other work, wall time measures
/// the neighbours as much as the code.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Median CPU time of `runs` passes of `parse_feed` over `docs`, and the
/// items they yielded in one pass.
fn time(docs: &[Vec<u8>], runs: usize) -> (Duration, usize) {
    let url = Url::parse("https://bench.example/feed.xml").unwrap();
    let now = Utc.timestamp_opt(1_750_000_000, 0).unwrap();
    let mut times = Vec::new();
    let mut items = 0;
    for _ in 0..runs {
        items = 0;
        let start = cpu_time();
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
        times.push(cpu_time() - start);
    }
    times.sort();
    (times[times.len() / 2], items)
}

/// Hostile shapes for the repair pass, `n` units each: the cost must grow
/// linearly with `n`.
fn hostile(n: usize) -> Vec<(&'static str, Vec<u8>)> {
    let rss = |body: String| {
        format!("<rss version=\"2.0\"><channel><item><link>http://x/1</link><title>{body}</title></item></channel></rss>").into_bytes()
    };
    vec![
        ("stray '&'", rss("& ".repeat(n))),
        ("unknown entities", rss("&bogus; ".repeat(n / 2))),
        ("stray end tags", rss("</x>".repeat(n / 2))),
        ("deep nesting", rss("<a>".repeat(n / 2))),
        (
            "unclosed CDATA",
            format!(
                "<rss version=\"2.0\"><channel><item><link>http://x/1</link><description><![CDATA[{}",
                "ab ".repeat(n)
            )
            .into_bytes(),
        ),
        (
            "links as <a10:link>",
            format!(
                "<rss version=\"2.0\" xmlns:a10=\"http://www.w3.org/2005/Atom\"><channel>{}</channel></rss>",
                "<item><title>t</title><a10:link href=\"http://x/1\"/></item>".repeat(n / 64)
            )
            .into_bytes(),
        ),
        (
            "CDF",
            format!(
                "<CHANNEL>{}</CHANNEL>",
                "<ITEM HREF=\"http://x/1\"><TITLE>t</TITLE></ITEM>".repeat(n / 48)
            )
            .into_bytes(),
        ),
        (
            "entries cut short",
            format!("<rss version=\"2.0\"><channel>{}", "<item><title>t".repeat(n / 8)).into_bytes(),
        ),
    ]
}

fn main() {
    if std::env::args().any(|a| a == "--hostile") {
        for n in [250_000, 500_000, 1_000_000] {
            for (shape, doc) in hostile(n) {
                let (t, _) = time(std::slice::from_ref(&doc), 5);
                println!(
                    "hostile {shape}: {:.2} MB in {:.1} ms CPU ({:.1} MB/s)",
                    doc.len() as f64 / 1e6,
                    t.as_secs_f64() * 1e3,
                    doc.len() as f64 / 1e6 / t.as_secs_f64()
                );
            }
        }
        return;
    }
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "../shared/corpus/realworld".into()));
    let runs: usize = args.next().map_or(15, |r| r.parse().expect("runs"));
    let mut files = Vec::new();
    corpus::walk(&dir, &["xml", "rss", "rdf", "atom"], &mut files);
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
            "{name}: {} documents, {:.1} MB, {items} items: median {:.1} ms CPU per pass ({:.1} MB/s, {:.0} µs per document) over {runs} passes",
            docs.len(),
            bytes as f64 / 1e6,
            t.as_secs_f64() * 1e3,
            bytes as f64 / 1e6 / t.as_secs_f64(),
            t.as_secs_f64() * 1e6 / docs.len().max(1) as f64,
        );
    }
}
