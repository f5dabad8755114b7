//! How `full_text = "auto"` would judge the entries of real documents:
//! per document, how many entries `fulltext::is_teaser` calls teasers, and
//! over all documents the share by how many words the entry's text has.
//!
//! ```sh
//! cargo run --release --example teaser_share -- ../shared/corpus/realworld [--list]
//! ```

use std::path::Path;

use chrono::{TimeZone, Utc};
use feedwire::fulltext::{is_teaser, CUT_WORDS, TEASER_WORDS};
use feedwire::parse::{parse_feed, FeedRef, Limits};
use url::Url;

#[path = "support/corpus.rs"]
mod corpus;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().expect("usage: teaser_share DIR [--list]");
    let list = args.iter().any(|a| a == "--list");
    let mut paths = Vec::new();
    corpus::walk(Path::new(dir), &["xml", "rss", "rdf", "atom", "json"], &mut paths);
    let url = Url::parse("https://corpus.example/feed.xml").unwrap();
    let now = Utc.timestamp_opt(1_750_000_000, 0).unwrap();
    // Entries by text length: under TEASER_WORDS, up to CUT_WORDS, longer;
    // and how many of each are teasers.
    let mut bands = [(0usize, 0usize); 3];
    let (mut docs, mut all_teasers, mut none_teasers, mut mixed) = (0, 0, 0, 0);
    for p in &paths {
        let body = std::fs::read(p).unwrap();
        let feed = FeedRef {
            url: &url,
            name: "corpus",
        };
        let Ok(parsed) = parse_feed(feed, &body, None, now, Limits::default()) else {
            continue;
        };
        if parsed.items.is_empty() {
            continue;
        }
        docs += 1;
        let mut teasers = 0;
        for item in &parsed.items {
            let html = item.content.as_deref().or(item.summary.as_deref()).unwrap_or("");
            let words = feedwire::select::html_to_text(html)
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .count();
            let band = match words {
                w if w < TEASER_WORDS => 0,
                w if w < CUT_WORDS => 1,
                _ => 2,
            };
            let teaser = is_teaser(item);
            bands[band].0 += 1;
            bands[band].1 += usize::from(teaser);
            teasers += usize::from(teaser);
        }
        match teasers {
            0 => none_teasers += 1,
            t if t == parsed.items.len() => all_teasers += 1,
            _ => mixed += 1,
        }
        if list {
            println!("{teasers:>4} / {:<4} {}", parsed.items.len(), p.display());
        }
    }
    println!("documents with entries: {docs}; every entry a teaser: {all_teasers}, none: {none_teasers}, some: {mixed}");
    let names = [
        format!("under {TEASER_WORDS} words"),
        format!("{TEASER_WORDS}-{} words", CUT_WORDS - 1),
        format!("{CUT_WORDS}+ words"),
    ];
    for (name, (n, t)) in names.iter().zip(bands) {
        println!("entries {name}: {n}, teasers {t}");
    }
}
