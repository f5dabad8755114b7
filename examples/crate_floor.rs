//! The CPU floor of a cold round under the crates feedwire is built on
//! (issue 12; BENCHMARKS.md, Run 23 "the crates' floor"): what reqwest,
//! feed-rs and sled take by themselves for a config's documents, with none
//! of feedwire's own work (charsets, canonical links, sanitising, text
//! cleaning, fingerprints, the date index, the crash-safe commit, the
//! render).
//!
//! 1. fetch: every `[[feed]]` URL of the config, 16 in flight, gzip, each
//!    body kept in memory;
//! 2. parse: `feed_rs::parser::parse` of every body on one thread, `--passes`
//!    times (default 3), each pass printed;
//! 3. store: each new item (by the SHA-256 of its first link, else its id)
//!    as a record of its link, title, summary and content, lz4-packed, in a
//!    fresh sled store with the store's cache and flush settings, then
//!    flushed; two layouts, each in its own store:
//!    - `item`: one record per item under a sequence number, and a key
//!      entry (two inserts per new item, feedwire's count before its date
//!      index, sources and journal);
//!    - `document`: one value per document holding its new records, and a
//!      key entry per item: the fewest inserts a store that deduplicates
//!      by link can make.
//!
//! CPU is the process's (every thread: tokio's workers, sled's flusher and
//! I/O threads), read from `CLOCK_PROCESS_CPUTIME_ID` around each step.
//!
//! `--open STORE` measures the memory floor instead: the resident memory
//! (`VmRSS`, `VmHWM`) of a process that only opens an existing sled store
//! (a copy of a feedwire store's folder: sled writes as it opens) with the
//! store's settings and reads one key, the state sled rebuilds for the
//! pages of the store before anything else runs.
//!
//! ```sh
//! target/release/examples/feedfarm 1000 --config /tmp/farm/feeds.toml &
//! target/release/examples/crate_floor /tmp/farm/feeds.toml /tmp/floor [--passes N]
//! target/release/examples/crate_floor --open /tmp/copy-of-a-store
//! ```

use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

#[path = "support/cpu.rs"]
mod cpu;
use cpu::process_cpu;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let (Some("--open"), Some(store)) = (args.get(1).map(String::as_str), args.get(2)) {
        return open(Path::new(store));
    }
    let (Some(config), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: crate_floor FEEDS.toml DIR [--passes N] | crate_floor --open STORE");
        std::process::exit(2);
    };
    let passes: usize = match args.iter().position(|a| a == "--passes") {
        Some(i) => args[i + 1].parse().expect("--passes N"),
        None => 3,
    };
    let text = std::fs::read_to_string(config).expect("config");
    let table: toml::Table = text.parse().expect("config is TOML");
    let urls: Vec<String> = table["feed"]
        .as_array()
        .expect("[[feed]] tables")
        .iter()
        .map(|f| f["url"].as_str().expect("feed url").to_owned())
        .collect();

    let bodies = measure("fetch", || fetch(&urls));
    let xml: usize = bodies.iter().map(Bytes::len).sum();
    println!("  {} documents, {:.1} MB", bodies.len(), xml as f64 / 1e6);

    let mut documents = Vec::new();
    for pass in 1..=passes {
        documents = measure(&format!("parse (feed-rs), pass {pass}"), || {
            bodies
                .iter()
                .map(|b| feed_rs::parser::parse(&b[..]).map_or_else(|_| Vec::new(), |f| f.entries))
                .collect::<Vec<_>>()
        });
    }
    let entries: usize = documents.iter().map(Vec::len).sum();
    println!("  {entries} entries");

    for layout in [Layout::Item, Layout::Document] {
        let path = Path::new(dir).join(layout.name());
        let _ = std::fs::remove_dir_all(&path);
        let (new, bytes) = measure(&format!("store (sled), {}", layout.name()), || {
            store(&path, layout, &documents)
        });
        println!(
            "  {new} new items, {:.1} MB of packed records",
            bytes as f64 / 1e6
        );
    }
}

fn open(path: &Path) {
    let memory = |when: &str| {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let kb = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map_or("?", str::trim)
                .to_owned()
        };
        println!("{when}: VmRSS {}, VmHWM {}", kb("VmRSS:"), kb("VmHWM:"));
    };
    memory("before");
    let db = sled_config(path).open().expect("sled");
    let _ = db.open_tree("keys").expect("keys").get(b"k").expect("get");
    memory("opened, one key read");
}

fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(feedwire::store::sled::CACHE_CAPACITY)
        .flush_every_ms(Some(500))
}

/// Runs `work`, printing its wall and process CPU seconds.
fn measure<T>(what: &str, work: impl FnOnce() -> T) -> T {
    let (wall, cpu) = (Instant::now(), process_cpu());
    let out = work();
    println!(
        "{what}: wall {:.3} s, CPU {:.3} s",
        wall.elapsed().as_secs_f64(),
        process_cpu() - cpu
    );
    out
}

fn fetch(urls: &[String]) -> Vec<Bytes> {
    // The provider feedwire installs (reqwest is built without one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        futures_util::stream::iter(urls)
            .map(|url| {
                let client = client.clone();
                async move {
                    let response = client.get(url).send().await.expect(url);
                    response.bytes().await.expect(url)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await
    })
}

#[derive(Clone, Copy)]
enum Layout {
    Item,
    Document,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Item => "item",
            Layout::Document => "document",
        }
    }
}

/// Stores every new entry; returns the new items and their packed bytes.
fn store(path: &Path, layout: Layout, documents: &[Vec<feed_rs::model::Entry>]) -> (u64, usize) {
    let db = sled_config(path).open().expect("sled");
    let keys = db.open_tree("keys").expect("keys");
    let records = db.open_tree("records").expect("records");
    let (mut new, mut bytes) = (0u64, 0usize);
    for (number, entries) in documents.iter().enumerate() {
        let mut value = Vec::new();
        for entry in entries {
            let link = entry.links.first().map_or(entry.id.as_str(), |l| l.href.as_str());
            let key = &Sha256::digest(link.as_bytes())[..16];
            if keys.get(key).expect("get").is_some() {
                continue;
            }
            new += 1;
            let mut record = link.as_bytes().to_vec();
            for text in [&entry.title, &entry.summary].into_iter().flatten() {
                record.extend_from_slice(text.content.as_bytes());
            }
            if let Some(body) = entry.content.as_ref().and_then(|c| c.body.as_ref()) {
                record.extend_from_slice(body.as_bytes());
            }
            let packed = lz4_flex::block::compress_prepend_size(&record);
            bytes += packed.len();
            match layout {
                Layout::Item => {
                    records.insert(new.to_be_bytes(), packed).expect("insert");
                    keys.insert(key, &new.to_be_bytes()).expect("insert");
                }
                Layout::Document => {
                    value.extend_from_slice(&packed);
                    keys.insert(key, &(number as u64).to_be_bytes()).expect("insert");
                }
            }
        }
        if let Layout::Document = layout {
            records
                .insert((number as u64).to_be_bytes(), value)
                .expect("insert");
        }
    }
    db.flush().expect("flush");
    (new, bytes)
}
