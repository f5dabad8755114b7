//! What the sled writer pays per item for each way of laying out and
//! committing a document's writes (BENCHMARKS.md, "Run 8 (sixth session):
//! store"). The farm's documents are parsed and their records encoded and
//! packed first (the parse threads' work); then one thread commits them in
//! groups, as the store's writer does, with one of:
//!
//! - `tx7`: one sled transaction over seven trees (schema 4's commit:
//!   `keys`, `records`, `dates`, `sources`, `meta`, and the two full-text
//!   trees it writes claims to). sled's transactional insert reads the key
//!   first, so every write is a tree descent more;
//! - `tx5`: the same without the two full-text trees;
//! - `batch5`: reads outside a transaction, then one `apply_batch` per tree
//!   (not atomic across trees: measured to separate the costs only);
//! - `tx1`: the same transaction on one tree whose keys carry a one-byte
//!   prefix per kind;
//! - `batch1`: one tree with prefixes, reads outside, one `apply_batch` per
//!   group: atomic (sled recovers a batch all or nothing);
//! - `tx4`: schema 6's commit (BENCHMARKS.md, "Run 10 (eighth session):
//!   store schema 6"): `tx5` without `dates`, the record keyed by sort date
//!   ‖ sequence number and prefixed with its item key.
//!
//! Each is run the same way: new items write their key entry, record and
//! (all but `tx4`) date-index entry; an item met again from another feed
//! adds its source. After the flush the store's sled page count is printed
//! (the page cache's next page id less its free list, from its `Debug`).
//!
//! ```sh
//! cargo build --release --example store_layout
//! target/release/examples/store_layout [--feeds 1000] [--passes 3] [--only tx7,batch1] [--dir /tmp/x]
//! valgrind --tool=callgrind target/release/examples/store_layout --feeds 200 --passes 1 --only none   # baseline
//! valgrind --tool=callgrind target/release/examples/store_layout --feeds 200 --passes 1 --only batch1
//! ```

#[path = "support/farm.rs"]
mod farm;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sled::transaction::{Transactional, TransactionalTree, UnabortableTransactionError};
use sled::IVec;

#[repr(C)]
#[derive(Default)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

#[repr(C)]
#[derive(Default)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    rest: [i64; 14],
}

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

fn thread_cpu() -> f64 {
    let mut ts = Timespec::default();
    // SAFETY: plain syscall with a valid pointer (3: CLOCK_THREAD_CPUTIME_ID).
    unsafe { clock_gettime(3, &mut ts) };
    ts.sec as f64 + ts.nsec as f64 / 1e9
}

fn process_cpu() -> f64 {
    let mut ru = Rusage::default();
    // SAFETY: plain syscall with a valid pointer (0: RUSAGE_SELF).
    unsafe { getrusage(0, &mut ru) };
    let s = |t: [i64; 2]| t[0] as f64 + t[1] as f64 / 1e6;
    s(ru.utime) + s(ru.stime)
}

/// One parsed entry, prepared as the parse thread prepares it.
struct Entry {
    key: Vec<u8>,
    date: i64,
    date_key: Vec<u8>,
    record: Vec<u8>,
    /// The record as schema 6 stores it: key length, key, packed record.
    keyed_record: Vec<u8>,
    feed: [u8; 8],
    source: Vec<u8>,
}

#[derive(Clone, Copy)]
enum Kind {
    Keys = 0,
    Records = 1,
    Dates = 2,
    Sources = 3,
    Meta = 4,
}

/// The prefix byte of each kind in the one-tree layouts.
const PREFIX: [u8; 5] = *b"krdsm";

trait View {
    type Err;
    fn get(&mut self, kind: Kind, key: &[u8]) -> Result<Option<IVec>, Self::Err>;
    fn put(&mut self, kind: Kind, key: &[u8], value: &[u8]) -> Result<(), Self::Err>;
}

fn prefixed(kind: Kind, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(PREFIX[kind as usize]);
    k.extend_from_slice(key);
    k
}

struct TxMany<'a>(&'a [TransactionalTree]);
impl View for TxMany<'_> {
    type Err = UnabortableTransactionError;
    fn get(&mut self, kind: Kind, key: &[u8]) -> Result<Option<IVec>, Self::Err> {
        self.0[kind as usize].get(key)
    }
    fn put(&mut self, kind: Kind, key: &[u8], value: &[u8]) -> Result<(), Self::Err> {
        self.0[kind as usize].insert(key, value).map(drop)
    }
}

struct TxOne<'a>(&'a TransactionalTree);
impl View for TxOne<'_> {
    type Err = UnabortableTransactionError;
    fn get(&mut self, kind: Kind, key: &[u8]) -> Result<Option<IVec>, Self::Err> {
        self.0.get(prefixed(kind, key))
    }
    fn put(&mut self, kind: Kind, key: &[u8], value: &[u8]) -> Result<(), Self::Err> {
        self.0.insert(prefixed(kind, key), value).map(drop)
    }
}

/// Reads from the trees through what the group wrote already; writes to
/// batches (one per tree, or one).
struct Batched<'a> {
    trees: &'a [sled::Tree],
    one: bool,
    own: HashMap<Vec<u8>, IVec>,
    batches: Vec<sled::Batch>,
}

impl Batched<'_> {
    fn at(&self, kind: Kind, key: &[u8]) -> (usize, Vec<u8>) {
        if self.one {
            (0, prefixed(kind, key))
        } else {
            (kind as usize, prefixed(kind, key))
        }
    }
    fn apply(self) -> sled::Result<()> {
        for (tree, batch) in self.trees.iter().zip(self.batches) {
            tree.apply_batch(batch)?;
        }
        Ok(())
    }
}

impl View for Batched<'_> {
    type Err = sled::Error;
    fn get(&mut self, kind: Kind, key: &[u8]) -> sled::Result<Option<IVec>> {
        let (tree, k) = self.at(kind, key);
        if let Some(v) = self.own.get(&k) {
            return Ok(Some(v.clone()));
        }
        if self.one {
            self.trees[tree].get(&k)
        } else {
            self.trees[tree].get(key)
        }
    }
    fn put(&mut self, kind: Kind, key: &[u8], value: &[u8]) -> sled::Result<()> {
        let (tree, k) = self.at(kind, key);
        if self.one {
            self.batches[tree].insert(k.as_slice(), value);
        } else {
            self.batches[tree].insert(key, value);
        }
        // Only what the commit reads back: key entries and counts.
        if matches!(kind, Kind::Keys | Kind::Meta) {
            self.own.insert(k, IVec::from(value));
        }
        Ok(())
    }
}

/// One group's writes through `view`; (new, merged). `dated`: schema 6,
/// records keyed by date ‖ sequence number and no date index.
fn commit<V: View>(view: &mut V, group: &[&[Entry]], dated: bool) -> Result<(usize, usize), V::Err> {
    let word = |b: &[u8]| u64::from_be_bytes(<[u8; 8]>::try_from(&b[..8]).expect("8 bytes"));
    let first = view.get(Kind::Meta, b"seq")?.map_or(0, |v| word(&v));
    let mut next = first;
    let (mut new, mut merged) = (0, 0);
    for doc in group {
        for e in doc.iter() {
            match view.get(Kind::Keys, &e.key)? {
                None => {
                    let seq = next;
                    next += 1;
                    let mut entry = vec![2u8];
                    entry.extend_from_slice(&seq.to_be_bytes());
                    entry.extend_from_slice(&e.date.to_be_bytes());
                    entry.extend_from_slice(&e.feed);
                    view.put(Kind::Keys, &e.key, &entry)?;
                    if dated {
                        let mut k = e.date_key[..8].to_vec();
                        k.extend_from_slice(&seq.to_be_bytes());
                        view.put(Kind::Records, &k, &e.keyed_record)?;
                    } else {
                        view.put(Kind::Records, &seq.to_be_bytes(), &e.record)?;
                        view.put(Kind::Dates, &e.date_key, &seq.to_be_bytes())?;
                    }
                    new += 1;
                }
                Some(found) => {
                    let seq = word(&found[1..]);
                    let feeds = &found[17..];
                    if !feeds.chunks_exact(8).any(|f| f == e.feed) {
                        let mut sk = seq.to_be_bytes().to_vec();
                        sk.extend_from_slice(&((feeds.len() / 8) as u32).to_be_bytes());
                        view.put(Kind::Sources, &sk, &e.source)?;
                        let mut entry = found.to_vec();
                        entry.extend_from_slice(&e.feed);
                        view.put(Kind::Keys, &e.key, &entry)?;
                        merged += 1;
                    }
                }
            }
        }
    }
    if next > first {
        view.put(Kind::Meta, b"seq", &next.to_be_bytes())?;
        let count = view.get(Kind::Meta, b"items")?.map_or(0, |v| word(&v));
        view.put(Kind::Meta, b"items", &(count + next - first).to_be_bytes())?;
    }
    Ok((new, merged))
}

/// Documents grouped as the writer groups them when it is never idle
/// (at most 32 documents, stopping once 4,096 items are in).
fn groups(docs: &[Vec<Entry>]) -> Vec<Vec<&[Entry]>> {
    let mut out = Vec::new();
    let mut group: Vec<&[Entry]> = Vec::new();
    let mut items = 0;
    for d in docs {
        if group.len() >= 32 || items >= 4096 {
            out.push(std::mem::take(&mut group));
            items = 0;
        }
        items += d.len();
        group.push(d);
    }
    if !group.is_empty() {
        out.push(group);
    }
    out
}

fn dir_size(p: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        let m = e.metadata().expect("metadata");
        n += if m.is_dir() { dir_size(&e.path()) } else { m.len() };
    }
    n
}

/// sled's page count: the page cache's `Debug` line (`PageCache { max:
/// N free: [..] }`), which any tree prints first; `meta` is small.
fn pages(tree: &sled::Tree) -> u64 {
    let text = format!("{tree:?}");
    let line = text.lines().find(|l| l.contains("PageCache")).unwrap_or("");
    // The numbers in a piece of the line (the mutexes print as `Mutex { data: N }`).
    let numbers = |s: &str| -> Vec<u64> {
        s.split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().expect("digits"))
            .collect()
    };
    let (max, free) = line.split_once("free:").unwrap_or((line, ""));
    let max = numbers(max).first().copied().unwrap_or(0);
    max.saturating_sub(numbers(free).len() as u64)
}

/// Runs one layout over all groups in a fresh store; (writer CPU, process
/// CPU, new, merged, bytes on disk, pages). Not inlined, so that callgrind
/// can count it alone (`--toggle-collect='store_layout::run*'`).
#[inline(never)]
fn run(variant: &str, dir: &Path, groups: &[Vec<&[Entry]>]) -> (f64, f64, usize, usize, u64, u64) {
    let _ = std::fs::remove_dir_all(dir);
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(8 * 1024 * 1024)
        .open()
        .expect("sled");
    let names: &[&str] = match variant {
        "tx7" => &[
            "keys",
            "records",
            "dates",
            "sources",
            "meta",
            "fulltext",
            "fulltext_held",
        ],
        "tx5" | "batch5" => &["keys", "records", "dates", "sources", "meta"],
        // `Kind` indexes the trees: `dates` is opened, never written.
        "tx4" => &["keys", "records", "dates", "sources", "meta"],
        _ => &["items"],
    };
    let trees: Vec<sled::Tree> = names.iter().map(|n| db.open_tree(n).expect("tree")).collect();
    let (t0, p0) = (thread_cpu(), process_cpu());
    let (mut new, mut merged) = (0, 0);
    for group in groups {
        let (n, m) = match variant {
            "tx7" | "tx5" | "tx4" => trees
                .as_slice()
                .transaction(|all| {
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(commit(
                        &mut TxMany(all),
                        group,
                        variant == "tx4",
                    )?)
                })
                .expect("tx"),
            "tx1" => trees[0]
                .transaction(|t| {
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(commit(
                        &mut TxOne(t),
                        group,
                        false,
                    )?)
                })
                .expect("tx"),
            "batch5" | "batch1" => {
                let one = variant == "batch1";
                let mut view = Batched {
                    trees: &trees,
                    one,
                    own: HashMap::new(),
                    batches: trees.iter().map(|_| sled::Batch::default()).collect(),
                };
                let r = commit(&mut view, group, false).expect("commit");
                view.apply().expect("apply");
                r
            }
            other => panic!("unknown variant {other}"),
        };
        new += n;
        merged += m;
    }
    db.flush().expect("flush");
    let (t1, p1) = (thread_cpu(), process_cpu());
    let pages = pages(&db.open_tree("meta").expect("meta"));
    drop(trees);
    drop(db);
    (t1 - t0, p1 - p0, new, merged, dir_size(dir), pages)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let n: usize = arg("--feeds").map_or(1000, |s| s.parse().expect("--feeds N"));
    let passes: usize = arg("--passes").map_or(3, |s| s.parse().expect("--passes N"));
    let dir = PathBuf::from(arg("--dir").unwrap_or_else(|| "/tmp/store-layout".into()));
    let only = arg("--only").unwrap_or_else(|| "tx7,tx5,batch5,tx1,batch1".into());
    let variants: Vec<&str> = only.split(',').filter(|v| *v != "none").collect();

    let f = farm::Farm::generate(n, n);
    let docs: Vec<Vec<Entry>> = f
        .feeds
        .iter()
        .map(|d| {
            let url = url::Url::parse(&f.url(d.index, 1)).expect("url");
            let feed = {
                let h = Sha256::digest(url.as_str().as_bytes());
                <[u8; 8]>::try_from(&h[..8]).expect("8 bytes")
            };
            let parsed = d.parse(&url);
            parsed
                .items
                .iter()
                .map(|item| {
                    let plain = postcard::to_stdvec(&(0u8, item)).expect("encode");
                    let mut date_key = ((item.date as u64) ^ (1 << 63)).to_be_bytes().to_vec();
                    date_key.extend_from_slice(item.key.as_str().as_bytes());
                    let record = zstd::bulk::compress(&plain, 1).expect("zstd");
                    let key = item.key.as_str().as_bytes();
                    let mut keyed_record = (key.len() as u32).to_be_bytes().to_vec();
                    keyed_record.extend_from_slice(key);
                    keyed_record.extend_from_slice(&record);
                    Entry {
                        key: item.key.as_str().as_bytes().to_vec(),
                        date: item.date,
                        date_key,
                        record,
                        keyed_record,
                        feed,
                        source: postcard::to_stdvec(&item.sources[0]).expect("encode"),
                    }
                })
                .collect()
        })
        .collect();
    let groups = groups(&docs);
    let items: usize = docs.iter().map(Vec::len).sum();
    println!(
        "{n} feeds, {items} items, {} distinct, {} groups; load {}",
        f.expected_distinct,
        groups.len(),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    let mut results: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
    for pass in 0..passes {
        for v in &variants {
            let (t, p, new, merged, bytes, pages) = run(v, &dir, &groups);
            assert_eq!(new, f.expected_distinct, "{v}: new items");
            println!(
                "pass {pass} {v:7}: writer {t:.3} s ({:.2} µs/item), process {p:.3} s, new {new}, merged {merged}, disk {:.1} MB, {pages} pages",
                t * 1e6 / items as f64,
                bytes as f64 / 1e6
            );
            results.entry(v).or_default().push((t, p));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("\n| layout | writer CPU, median | µs per item | process CPU, median |");
    println!("|---|---:|---:|---:|");
    for v in &variants {
        let mut t: Vec<f64> = results[v].iter().map(|r| r.0).collect();
        let mut p: Vec<f64> = results[v].iter().map(|r| r.1).collect();
        t.sort_by(f64::total_cmp);
        p.sort_by(f64::total_cmp);
        let (t, p) = (t[t.len() / 2], p[p.len() / 2]);
        println!("| {v} | {t:.3} s | {:.2} | {p:.3} s |", t * 1e6 / items as f64);
    }
}
