//! What packing the sled store's records costs and saves (BENCHMARKS.md,
//! "Run 6 (fourth session): store"): for the 1,000-feed farm's items and
//! the real feeds in `../shared/corpus/realworld` (or `$FEEDWIRE_REALWORLD`),
//! the bytes of the plain postcard records and of the same records packed
//! with zstd at the store's level, and the CPU time per item of encoding,
//! packing, unpacking and decoding (this thread's CPU clock, so other
//! processes on the machine do not count).
//!
//! ```sh
//! cargo run --release --example record_codec
//! ```

#[path = "support/farm.rs"]
mod farm;

use feedwire::item::Item;
use feedwire::parse::{parse_feed, FeedRef, Limits};

/// The level `store::encode_packed` uses.
const LEVEL: i32 = 1;

#[path = "support/cpu.rs"]
mod cpu;
use cpu::thread_cpu;

/// CPU microseconds per item of `f` over `n` items (best of 3 passes).
fn per_item(n: usize, mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = thread_cpu();
            f();
            thread_cpu() - t
        })
        .fold(f64::INFINITY, f64::min)
        * 1e6
        / n as f64
}

fn measure(name: &str, items: &[Item]) {
    let plain: Vec<Vec<u8>> = items
        .iter()
        .map(|i| postcard::to_stdvec(i).expect("encode"))
        .collect();
    let mut packer = zstd::bulk::Compressor::new(LEVEL).expect("zstd");
    let mut unpacker = zstd::bulk::Decompressor::new().expect("zstd");
    let packed: Vec<Vec<u8>> = plain.iter().map(|p| packer.compress(p).expect("pack")).collect();
    let (n, raw, small) = (
        items.len(),
        plain.iter().map(Vec::len).sum::<usize>(),
        packed.iter().map(Vec::len).sum::<usize>(),
    );
    let encode = per_item(n, || {
        for i in items {
            std::hint::black_box(postcard::to_stdvec(i).expect("encode"));
        }
    });
    let pack = per_item(n, || {
        for p in &plain {
            std::hint::black_box(packer.compress(p).expect("pack"));
        }
    });
    let unpack = per_item(n, || {
        for (p, z) in plain.iter().zip(&packed) {
            std::hint::black_box(unpacker.decompress(z, p.len()).expect("unpack"));
        }
    });
    let decode = per_item(n, || {
        for p in &plain {
            std::hint::black_box(postcard::from_bytes::<Item>(p).expect("decode"));
        }
    });
    println!(
        "| {name} | {n} | {:.0} B | {:.0} B ({:.2}×) | {encode:.1} | {pack:.1} | {unpack:.1} | {decode:.1} |",
        raw as f64 / n as f64,
        small as f64 / n as f64,
        small as f64 / raw as f64,
    );
}

fn feed_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            feed_files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "xml" || x == "rss" || x == "atom")
        {
            out.push(p);
        }
    }
}

fn main() {
    let f = farm::Farm::generate(1000, 1000);
    let farm_items: Vec<Item> = f
        .feeds
        .iter()
        .flat_map(|d| d.parse(&url::Url::parse(&f.url(d.index, 1)).expect("url")).items)
        .collect();
    let dir = std::env::var("FEEDWIRE_REALWORLD").unwrap_or_else(|_| "../shared/corpus/realworld".into());
    let mut files = Vec::new();
    feed_files(std::path::Path::new(&dir), &mut files);
    files.sort();
    let url = url::Url::parse("https://example.org/feed").expect("url");
    let real: Vec<Item> = files
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter_map(|body| {
            let feed = FeedRef {
                url: &url,
                name: "real",
            };
            parse_feed(feed, &body, None, chrono::Utc::now(), Limits::default()).ok()
        })
        .flat_map(|p| p.items)
        .collect();
    println!("zstd level {LEVEL}; CPU µs per item, best of 3 passes");
    println!();
    println!("| items | n | plain record | packed | encode | pack | unpack | decode |");
    println!("|---|---|---|---|---|---|---|---|");
    measure("farm (1,000 feeds)", &farm_items);
    if real.is_empty() {
        println!("(no real feeds under {dir})");
    } else {
        measure(&format!("realworld corpus ({} files)", files.len()), &real);
    }
}
