//! What the daemon's full-text release tick costs while many items are
//! held for their pages (BENCHMARKS.md, Run 14): a store holding `--held N`
//! items (default 40,000, a cold full-text round of 1,000 feeds; 40 per
//! feed, Arabic links), none due, then `--ticks T` calls of
//! `release_expired_full_text(now)` as `fulltext::RELEASE_TICK` makes them
//! (each releases nothing), then one call at the holds' end (releases all).
//! Prints this thread's CPU time per tick (other processes do not count)
//! and the wall time; run under callgrind for instruction counts:
//!
//! ```sh
//! cargo build --release --example fulltext_tick
//! target/release/examples/fulltext_tick --held 40000 --ticks 20
//! valgrind --tool=callgrind --toggle-collect='*release_expired_full_text*' \
//!     target/release/examples/fulltext_tick --held 40000 --ticks 20
//! # PostgreSQL (wall time only: the work is the server's)
//! target/release/examples/fulltext_tick --postgres postgres://... --held 40000
//! ```

use std::time::Instant;

use feedwire::item::{Item, ItemKey, Source};
use feedwire::store::{FullTextClaim, PoolSettings, Store};

#[path = "support/cpu.rs"]
mod cpu;
use cpu::thread_cpu;

fn item(feed: usize, n: usize) -> Item {
    let link = format!("https://site{feed}.example/أخبار/{n}");
    let url = url::Url::parse(&link).expect("link");
    let feed_url = format!("https://site{feed}.example/feed");
    Item {
        key: ItemKey::from_link(&url),
        link: Some(link.clone()),
        title: format!("عنوان الخبر {n}"),
        summary: Some("<p>التفاصيل بعد قليل..</p>".into()),
        content: None,
        authors: vec![],
        categories: vec![],
        published: Some(1_700_000_000 + n as i64),
        updated: None,
        first_seen: 1_700_000_000,
        date: 1_700_000_000 + n as i64,
        language: Some("ar".into()),
        enclosure: None,
        sources: vec![Source {
            feed_url: feed_url.clone(),
            feed_name: feed_url,
            link: Some(link),
        }],
        fingerprint: None,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let held: usize = get("--held").map_or(40_000, |v| v.parse().expect("--held N"));
    let ticks: usize = get("--ticks").map_or(20, |v| v.parse().expect("--ticks T"));
    let dir = tempfile::tempdir().expect("temp dir");
    let store = match get("--postgres") {
        Some(url) => Store::connect(&url, &PoolSettings::default()).expect("connect"),
        None => Store::open(dir.path()).expect("open"),
    };
    let now = 1_700_000_000i64;
    let until = now + 30;
    let per_feed = 40;
    let wanted = |_: &Item| true;
    let t = Instant::now();
    for feed in 0..held.div_ceil(per_feed) {
        let feed_url = format!("https://site{feed}.example/feed");
        let items: Vec<Item> = (0..per_feed.min(held - feed * per_feed))
            .map(|n| item(feed, feed * per_feed + n))
            .collect();
        let claim = FullTextClaim {
            feed_url: &feed_url,
            hold_until: until,
            wanted: &wanted,
            hold: true,
        };
        store.ingest_claiming(&items, Some(&claim)).expect("ingest");
    }
    store.flush().expect("flush");
    println!(
        "backend {}: {held} items held until now+30 (stored in {:.1} s)",
        store.backend(),
        t.elapsed().as_secs_f64()
    );

    let (wall, cpu) = (Instant::now(), thread_cpu());
    for _ in 0..ticks {
        let released = store.release_expired_full_text(now).expect("release");
        assert_eq!(released, 0, "nothing is due yet");
    }
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), thread_cpu() - cpu);
    println!(
        "tick, none due: {:.3} ms CPU, {:.3} ms wall per tick ({ticks} ticks)",
        cpu * 1e3 / ticks as f64,
        wall * 1e3 / ticks as f64
    );

    let (wall, cpu) = (Instant::now(), thread_cpu());
    let released = store.release_expired_full_text(until).expect("release");
    println!(
        "tick at the holds' end: {released} released, {:.1} ms CPU, {:.1} ms wall",
        (thread_cpu() - cpu) * 1e3,
        wall.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(released, held);
}
