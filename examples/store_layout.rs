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
//!   ‖ sequence number and prefixed with its item key;
//! - `packed`: several items per sled entry in `keys`, `records` and
//!   `dates` (see [`packed`]; BENCHMARKS.md, "Run 11 (ninth session): store
//!   packed layout"). `PACKED_DATES_MAX` (pairs per date chunk, 64) and
//!   `PACKED_LOAD` (keys per bucket, 8) set its shape.
//!
//! Each is run the same way: new items write their key entry, record and
//! (all but `tx4`) date-index entry; an item met again from another feed
//! adds its source. After the flush the store's sled page count is printed
//! (the page cache's next page id less its free list, from its `Debug`),
//! the run's peak RSS above its start (VmHWM, reset through `clear_refs`),
//! and for `tx5` and `packed` what reading costs: 50 newest-first walks of
//! 200 records (each decompressed) and a lookup of every 4th key.
//! `--group-docs N` caps a group at N documents (the store's cap is 32; in
//! a cold round the writer is often idle and takes 1-3).
//!
//! ```sh
//! cargo build --release --example store_layout
//! target/release/examples/store_layout [--feeds 1000] [--passes 3] [--only tx7,batch1] [--dir /tmp/x] [--group-docs 2]
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
    /// 8 bytes of the SHA-256 of the key (`packed`: picks its `keys` bucket).
    hash: u64,
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
/// (at most `most` documents, 32 in the store, stopping once 4,096 items
/// are in). In a cold round the writer is often idle: its groups are 1-3
/// documents (BENCHMARKS.md, Run 9 "memory"), hence `--group-docs`.
fn groups(docs: &[Vec<Entry>], most: usize) -> Vec<Vec<&[Entry]>> {
    let mut out = Vec::new();
    let mut group: Vec<&[Entry]> = Vec::new();
    let mut items = 0;
    for d in docs {
        if group.len() >= most || items >= 4096 {
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

/// What one run of a layout measured.
struct Outcome {
    writer: f64,
    process: f64,
    new: usize,
    merged: usize,
    bytes: u64,
    pages: u64,
    /// Peak RSS above the RSS at the start of the run (VmHWM, reset first).
    peak_kb: i64,
    /// Writer CPU of 50 newest-first reads of 200 records (decompressed).
    recent: f64,
    /// Writer CPU of looking up every 4th key.
    lookups: (f64, usize),
}

fn status_kb(field: &str) -> i64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Runs one layout over all groups in a fresh store. Not inlined, so that
/// callgrind can count it alone (`--toggle-collect='store_layout::run*'`).
#[inline(never)]
fn run(variant: &str, dir: &Path, groups: &[Vec<&[Entry]>]) -> Outcome {
    let _ = std::fs::remove_dir_all(dir);
    // Resets VmHWM to the current RSS, so the peak below is this run's.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss0 = status_kb("VmRSS:");
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
        // `Kind` indexes the trees: `tx4` opens `dates`, never writes it.
        "tx5" | "batch5" | "tx4" | "packed" => &["keys", "records", "dates", "sources", "meta"],
        _ => &["items"],
    };
    let shape = packed::Shape::from_env();
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
            "packed" => {
                let floors = packed::floors(&trees[Kind::Dates as usize], group);
                trees
                    .as_slice()
                    .transaction(|all| {
                        Ok::<_, sled::transaction::ConflictableTransactionError<()>>(packed::commit(
                            all, group, &floors, &shape,
                        )?)
                    })
                    .expect("tx")
            }
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
    let peak_kb = status_kb("VmHWM:") - rss0;
    let pages = pages(&db.open_tree("meta").expect("meta"));
    let (recent, lookups) = match variant {
        "tx5" | "packed" => reads(variant, &trees, groups),
        _ => (0.0, (0.0, 0)),
    };
    drop(trees);
    drop(db);
    Outcome {
        writer: t1 - t0,
        process: p1 - p0,
        new,
        merged,
        bytes: dir_size(dir),
        pages,
        peak_kb,
        recent,
        lookups,
    }
}

/// The readers' side of `tx5` and `packed`: newest-first pages of 200
/// records (what a render reads), then key lookups (what `knows` does).
/// Not inlined, so that callgrind can take it out of `run`.
#[inline(never)]
fn reads(variant: &str, trees: &[sled::Tree], groups: &[Vec<&[Entry]>]) -> (f64, (f64, usize)) {
    let (keys, records, dates) = (
        &trees[Kind::Keys as usize],
        &trees[Kind::Records as usize],
        &trees[Kind::Dates as usize],
    );
    let word = |b: &[u8]| u64::from_be_bytes(<[u8; 8]>::try_from(&b[..8]).expect("8 bytes"));
    let unpack = |r: &[u8]| zstd::bulk::decompress(r, 1 << 20).expect("zstd").len();
    let t0 = thread_cpu();
    let mut bytes = 0;
    for _ in 0..50 {
        if variant == "tx5" {
            for r in dates.iter().rev().take(200) {
                let (_, seq) = r.expect("dates");
                bytes += unpack(&records.get(&seq).expect("get").expect("record"));
            }
        } else {
            let mut left = 200;
            'chunks: for r in dates.iter().rev() {
                let (_, chunk) = r.expect("dates");
                for pair in chunk.rchunks_exact(16) {
                    let seq = word(&pair[8..]);
                    let c = records
                        .get((seq / packed::SLOTS).to_be_bytes())
                        .expect("get")
                        .expect("chunk");
                    bytes += unpack(packed::slot(&c, (seq % packed::SLOTS) as usize).expect("slot"));
                    left -= 1;
                    if left == 0 {
                        break 'chunks;
                    }
                }
            }
        }
    }
    let recent = thread_cpu() - t0;
    assert!(bytes > 0);
    let t0 = thread_cpu();
    let n_buckets = trees[Kind::Meta as usize]
        .get(b"buckets")
        .expect("meta")
        .map_or(1, |v| word(&v));
    let mut found = 0;
    for e in groups.iter().flatten().flat_map(|d| d.iter()).step_by(4) {
        let hit = if variant == "tx5" || std::env::var("PACKED_LOAD").as_deref() == Ok("0") {
            keys.get(&e.key).expect("get").is_some()
        } else {
            let b = keys
                .get(packed::bucket(e.hash, n_buckets).to_be_bytes())
                .expect("get");
            b.is_some_and(|b| packed::find_in_bucket(&b, &e.key).is_some())
        };
        found += usize::from(hit);
    }
    (recent, (thread_cpu() - t0, found))
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
                        hash: packed::key_hash(item.key.as_str().as_bytes()),
                    }
                })
                .collect()
        })
        .collect();
    let most: usize = arg("--group-docs").map_or(32, |s| s.parse().expect("--group-docs N"));
    let groups = groups(&docs, most);
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
            let o = run(v, &dir, &groups);
            assert_eq!(o.new, f.expected_distinct, "{v}: new items");
            let (t, p) = (o.writer, o.process);
            println!(
                "pass {pass} {v:7}: writer {t:.3} s ({:.2} µs/item), process {p:.3} s, new {}, merged {}, disk {:.1} MB, {} pages ({:.4}/item), peak +{} KB, recent 50x200 {:.3} s, lookups {:.3} s ({} found)",
                t * 1e6 / items as f64,
                o.new,
                o.merged,
                o.bytes as f64 / 1e6,
                o.pages,
                o.pages as f64 / o.new as f64,
                o.peak_kb,
                o.recent,
                o.lookups.0,
                o.lookups.1,
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

/// `packed`: fewer, larger sled entries (BENCHMARKS.md, "Run 11 (ninth
/// session): store packed layout"). sled keeps state per page and splits a
/// leaf above 16 entries whatever their size, so its pages follow entries:
///
/// - `records`: sequence number / [`SLOTS`] → a chunk of [`SLOTS`]
///   consecutive records (a header of end offsets, then the packed records
///   back to back; an empty slot is a pruned or never-written record).
///   Appended at the right edge; a group rewrites the partial chunk the
///   group before it left. Reading a record is one `get` and a slice.
/// - `dates`: chunks of sorted (sort date ‖ sequence number) pairs, each
///   under a key no greater than its first pair and covering up to the next
///   chunk's key (the leaves of a B+ tree of our own). A group adds its
///   pairs to the chunks they fall in, rewriting each once, and splits a
///   chunk that grows past `max` pairs. sled's transactions cannot range
///   (a plain read inside one deadlocks on sled's concurrency lock), so the
///   writer finds each pair's chunk (`floor`) before the transaction.
/// - `keys`: linear hashing on 8 bytes of the SHA-256 of the key: `meta`
///   holds the bucket count, a bucket holds its (key, entry) pairs; a group
///   splits buckets while the store holds more than `load` keys a bucket.
///   A lookup is one `get` and a scan of ~`load` keys. `load` 0 keeps one
///   entry per key, as schema 5 does (at 10,000 feeds the buckets no longer
///   fit in sled's cache and cost the writer more than they save).
mod packed {
    use std::collections::{BTreeMap, HashMap};

    use sha2::{Digest, Sha256};
    use sled::transaction::{TransactionalTree, UnabortableTransactionError};
    use sled::IVec;

    use super::Entry;

    /// Records per `records` chunk.
    pub const SLOTS: u64 = 16;

    type TxResult<T> = Result<T, UnabortableTransactionError>;
    /// A `keys` bucket's (key, entry) pairs, decoded.
    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    pub fn key_hash(key: &[u8]) -> u64 {
        let d = Sha256::digest(key);
        u64::from_be_bytes(<[u8; 8]>::try_from(&d[..8]).expect("8 bytes"))
    }

    /// The tunables, from the environment for the sweep.
    pub struct Shape {
        pub dates_max: usize,
        pub load: u64,
    }

    impl Shape {
        pub fn from_env() -> Shape {
            let var = |n: &str, d: u64| std::env::var(n).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
            Shape {
                dates_max: var("PACKED_DATES_MAX", 64) as usize,
                load: var("PACKED_LOAD", 8),
            }
        }
    }

    /// The bucket of `hash` among `n` (linear hashing).
    pub fn bucket(hash: u64, n: u64) -> u64 {
        let level = 63 - n.max(1).leading_zeros();
        let low = 1u64 << level;
        let b = hash & (low - 1);
        if b < n - low {
            hash & (2 * low - 1)
        } else {
            b
        }
    }

    pub fn slot(chunk: &[u8], i: usize) -> Option<&[u8]> {
        let end = |j: usize| u32::from_be_bytes(chunk[4 * j..4 * j + 4].try_into().expect("4")) as usize;
        let head = 4 * SLOTS as usize;
        let start = if i == 0 { 0 } else { end(i - 1) };
        let stop = end(i);
        (stop > start).then(|| &chunk[head + start..head + stop])
    }

    fn encode_chunk(slots: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + slots.iter().map(Vec::len).sum::<usize>());
        let mut end = 0u32;
        for s in slots {
            end += s.len() as u32;
            out.extend_from_slice(&end.to_be_bytes());
        }
        for s in slots {
            out.extend_from_slice(s);
        }
        out
    }

    pub fn decode_bucket(v: &[u8]) -> Pairs {
        let mut out = Vec::new();
        let mut at = 0;
        while at < v.len() {
            let kl = u16::from_be_bytes([v[at], v[at + 1]]) as usize;
            let key = v[at + 2..at + 2 + kl].to_vec();
            at += 2 + kl;
            let el = v[at] as usize;
            let entry = v[at + 1..at + 1 + el].to_vec();
            at += 1 + el;
            out.push((key, entry));
        }
        out
    }

    /// The entry of `key` in an encoded bucket, without decoding the rest.
    pub fn find_in_bucket<'a>(v: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
        let mut at = 0;
        while at < v.len() {
            let kl = u16::from_be_bytes([v[at], v[at + 1]]) as usize;
            let k = &v[at + 2..at + 2 + kl];
            at += 2 + kl;
            let el = v[at] as usize;
            if k == key {
                return Some(&v[at + 1..at + 1 + el]);
            }
            at += 1 + el;
        }
        None
    }

    fn encode_bucket(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(pairs.iter().map(|(k, e)| 3 + k.len() + e.len()).sum());
        for (k, e) in pairs {
            out.extend_from_slice(&(k.len() as u16).to_be_bytes());
            out.extend_from_slice(k);
            out.push(e.len() as u8);
            out.extend_from_slice(e);
        }
        out
    }

    fn word(b: &[u8]) -> u64 {
        u64::from_be_bytes(<[u8; 8]>::try_from(&b[..8]).expect("8 bytes"))
    }

    /// The date key of a new item (sort date ‖ sequence number).
    fn date_pair(e: &Entry, seq: u64) -> [u8; 16] {
        let mut k = [0; 16];
        k[..8].copy_from_slice(&e.date_key[..8]);
        k[8..].copy_from_slice(&seq.to_be_bytes());
        k
    }

    /// Before the transaction: the `dates` chunk each entry's pair would
    /// fall in (any new sequence number is above every stored one, so the
    /// floor of date ‖ u64::MAX is the floor of the pair).
    pub fn floors(dates: &sled::Tree, group: &[&[Entry]]) -> Vec<Vec<Option<IVec>>> {
        group
            .iter()
            .map(|doc| {
                doc.iter()
                    .map(|e| {
                        let mut k = [0xff; 16];
                        k[..8].copy_from_slice(&e.date_key[..8]);
                        dates.range(..=k).next_back().map(|r| r.expect("range").0)
                    })
                    .collect()
            })
            .collect()
    }

    /// One group's writes; trees: keys, records, dates, sources, meta.
    pub fn commit(
        tx: &[TransactionalTree],
        group: &[&[Entry]],
        floors: &[Vec<Option<IVec>>],
        shape: &Shape,
    ) -> TxResult<(usize, usize)> {
        let [t_keys, t_records, t_dates, t_sources, t_meta] = tx else {
            panic!("five trees")
        };
        let meta = |k: &[u8]| -> TxResult<u64> { Ok(t_meta.get(k)?.map_or(0, |v| word(&v))) };
        let first = meta(b"seq")?;
        let mut n_buckets = meta(b"buckets")?.max(1);
        let mut n_keys = meta(b"keys")?;
        let mut next = first;
        let (mut new, mut merged) = (0, 0);
        // `load` 0: one `keys` entry per key, as in schema 5 (to tell the
        // buckets' share from the chunks').
        let plain = shape.load == 0;
        let mut buckets: HashMap<u64, Pairs> = HashMap::new();
        let mut dirty: Vec<u64> = Vec::new();
        let mut plain_keys: HashMap<Vec<u8>, Pairs> = HashMap::new();
        let mut records: Vec<&[u8]> = Vec::new();
        let mut dated: BTreeMap<Option<IVec>, Vec<[u8; 16]>> = BTreeMap::new();
        for (doc, doc_floors) in group.iter().zip(floors) {
            for (e, floor) in doc.iter().zip(doc_floors) {
                let b = if plain { 0 } else { bucket(e.hash, n_buckets) };
                let pairs = if plain {
                    match plain_keys.entry(e.key.clone()) {
                        std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            let found = t_keys.get(&e.key)?;
                            v.insert(found.map_or_else(Vec::new, |f| vec![(e.key.clone(), f.to_vec())]))
                        }
                    }
                } else {
                    match buckets.entry(b) {
                        std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            let found = t_keys.get(b.to_be_bytes())?;
                            v.insert(found.map_or_else(Vec::new, |f| decode_bucket(&f)))
                        }
                    }
                };
                match pairs.iter_mut().find(|(k, _)| *k == e.key) {
                    None => {
                        let seq = next;
                        next += 1;
                        let mut entry = vec![2u8];
                        entry.extend_from_slice(&seq.to_be_bytes());
                        entry.extend_from_slice(&e.date.to_be_bytes());
                        entry.extend_from_slice(&e.feed);
                        if plain {
                            t_keys.insert(e.key.as_slice(), entry.as_slice())?;
                        }
                        pairs.push((e.key.clone(), entry));
                        dirty.push(b);
                        n_keys += 1;
                        records.push(&e.record);
                        dated.entry(floor.clone()).or_default().push(date_pair(e, seq));
                        new += 1;
                    }
                    Some((_, entry)) => {
                        let seq = word(&entry[1..]);
                        let feeds = &entry[17..];
                        if !feeds.chunks_exact(8).any(|f| f == e.feed) {
                            let mut sk = seq.to_be_bytes().to_vec();
                            sk.extend_from_slice(&((feeds.len() / 8) as u32).to_be_bytes());
                            t_sources.insert(sk, e.source.as_slice())?;
                            entry.extend_from_slice(&e.feed);
                            if plain {
                                t_keys.insert(e.key.as_slice(), entry.as_slice())?;
                            }
                            dirty.push(b);
                            merged += 1;
                        }
                    }
                }
            }
        }
        // Records: whole chunks, the first one completing what the group
        // before left.
        let mut seq = first;
        let mut i = 0;
        while i < records.len() {
            let chunk = seq / SLOTS;
            let mut slots: Vec<Vec<u8>> = match (seq % SLOTS, t_records.get(chunk.to_be_bytes())?) {
                (0, _) | (_, None) => vec![Vec::new(); SLOTS as usize],
                (_, Some(old)) => (0..SLOTS as usize)
                    .map(|s| slot(&old, s).map_or_else(Vec::new, <[u8]>::to_vec))
                    .collect(),
            };
            while i < records.len() && seq / SLOTS == chunk {
                slots[(seq % SLOTS) as usize] = records[i].to_vec();
                seq += 1;
                i += 1;
            }
            t_records.insert(&chunk.to_be_bytes(), encode_chunk(&slots))?;
        }
        // Dates: each chunk touched rewritten once; split when too large.
        for (floor, mut pairs) in dated {
            pairs.sort_unstable();
            let (key, mut all) = match &floor {
                Some(k) => match t_dates.get(k)? {
                    Some(old) => (
                        k.to_vec(),
                        old.chunks_exact(16).map(|p| p.try_into().expect("16")).collect(),
                    ),
                    None => (pairs[0].to_vec(), Vec::new()),
                },
                None => (pairs[0].to_vec(), Vec::new()),
            };
            all.extend_from_slice(&pairs);
            all.sort_unstable();
            let pieces = if all.len() > shape.dates_max {
                all.len().div_ceil(shape.dates_max * 3 / 4)
            } else {
                1
            };
            let per = all.len().div_ceil(pieces);
            for (n, piece) in all.chunks(per).enumerate() {
                let k = if n == 0 { key.clone() } else { piece[0].to_vec() };
                t_dates.insert(k, piece.concat())?;
            }
        }
        // Keys: split buckets while the load is above the bound, then write
        // every bucket changed.
        if plain {
            dirty.clear();
        }
        while !plain && n_keys > shape.load * n_buckets {
            let level = 63 - n_buckets.leading_zeros();
            let low = 1u64 << level;
            let from = n_buckets - low;
            let pairs = match buckets.remove(&from) {
                Some(p) => p,
                None => t_keys
                    .get(from.to_be_bytes())?
                    .map_or_else(Vec::new, |f| decode_bucket(&f)),
            };
            let (stay, go): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(k, _)| key_hash(k) & low == 0);
            buckets.insert(from, stay);
            buckets.insert(from + low, go);
            dirty.push(from);
            dirty.push(from + low);
            n_buckets += 1;
        }
        dirty.sort_unstable();
        dirty.dedup();
        for b in dirty {
            t_keys.insert(&b.to_be_bytes(), encode_bucket(&buckets[&b]))?;
        }
        if next > first {
            t_meta.insert(b"seq", &next.to_be_bytes())?;
            t_meta.insert(b"buckets", &n_buckets.to_be_bytes())?;
            t_meta.insert(b"keys", &n_keys.to_be_bytes())?;
            let count = meta(b"items")?;
            t_meta.insert(b"items", &(count + next - first).to_be_bytes())?;
        }
        Ok((new, merged))
    }
}
