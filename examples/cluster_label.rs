//! Labelling aid for the real clustering evaluation set: reads feed
//! snapshots from `../shared/corpus/realworld/` with feedwire's own parser
//! and prints one JSON line per item (file, site link, item link, date,
//! title, first words of the summary) with the story clustering proposes at
//! a given threshold, as candidates for a human to review.
//!
//! `cargo run --example cluster_label -- 0.3 FILE...` (files relative to the
//! corpus directory)

use std::path::Path;

use feedwire::cluster::{ClusterConfig, Clusterer};
use feedwire::parse::{parse_feed, FeedRef, Limits};

fn main() {
    let mut args = std::env::args().skip(1);
    let threshold: f64 = args.next().and_then(|t| t.parse().ok()).unwrap_or(0.3);
    let root = Path::new("../shared/corpus/realworld");
    let mut items = Vec::new();
    for file in args {
        let bytes = std::fs::read(root.join(&file)).expect("read corpus file");
        let url = url::Url::parse(&format!("https://corpus.invalid/{file}")).unwrap();
        let parsed = match parse_feed(
            FeedRef {
                url: &url,
                name: &file,
            },
            &bytes,
            None,
            chrono::Utc::now(),
            Limits::default(),
        ) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{file}: {e}");
                continue;
            }
        };
        for item in parsed.items {
            items.push((file.clone(), parsed.site_url.clone(), item));
        }
    }
    let mut c = Clusterer::new(ClusterConfig {
        threshold,
        ..ClusterConfig::default()
    });
    for (_, _, item) in &items {
        c.add(item);
    }
    for (file, site, item) in &items {
        let cluster = c.cluster_of(&item.key).map(|c| c.id.to_string());
        let summary = item
            .summary
            .as_deref()
            .map(feedwire::select::html_to_text)
            .unwrap_or_default();
        let summary: String = summary.split_whitespace().take(40).collect::<Vec<_>>().join(" ");
        let line = serde_json::json!({
            "file": file, "site": site, "link": item.link, "key": item.key.as_str(),
            "date": chrono::DateTime::from_timestamp(item.date, 0).map(|d| d.to_rfc3339()),
            "lang": item.language, "title": item.title, "summary": summary, "cluster": cluster,
        });
        println!("{line}");
    }
}
