//! The embedded backend: sled, one process per store (the default).
//!
//! Layout, schema version 10 ([`SCHEMA_VERSION`]):
//! - `keys`: [`ItemKey`] → a small entry. For a stored item: its record's
//!   sequence number, its sort date, the fingerprint of its first feed's
//!   text (`parse::fingerprint`; absent in an entry written before version
//!   9, see below) and 8 bytes of the SHA-256 of each source feed's URL,
//!   in the order the sources came. The parser's lookup reads the
//!   fingerprint with the rest, so that an entry its feed revised is told
//!   from one it repeats without reading the record.
//!   For a pruned item: when it was first seen, so that it never comes back
//!   as new. "Have we seen this story?" and "does this feed carry it
//!   already?" ([`SledStore::knows`]) are one lookup in a tree of ~100-byte
//!   entries that stays in sled's cache.
//! - `keyed_records`: sequence number (big-endian u64) → the item's key
//!   (big-endian u32 length, then the key, so that readers skip an item by
//!   key without decoding it) and its versioned postcard record, packed
//!   (lz4 below 8 KiB, zstd above; zstd only before version 10) by the
//!   thread that encodes it ([`encode_packed`]). Numbers
//!   are handed out in insertion order, so new records are appended at the
//!   tree's right edge. One entry per record, not chunks of them: sled 0.34
//!   splits a leaf only past 16 entries, whatever their size, and writes
//!   any leaf over a quarter of its 512 KiB log segment (128 KiB) as a blob
//!   file of its own, read and written whole; leaves of 16 chunks of 16
//!   records were always blobs, and raised a cold round's peak by 20 MB
//!   (BENCHMARKS.md, Run 11 "store schema 7 built" and Run 12).
//! - `date_chunks`: chunks of sorted (big-endian sort date ‖ sequence
//!   number) pairs, 16 bytes each, each under a key no greater than its
//!   first pair and covering the pairs up to the next chunk's key (the
//!   leaves of a B+ tree of our own). The writer finds each new pair's
//!   chunk ([`commit`]), adds the group's pairs to
//!   the chunks they fall in, rewriting each once, and cuts a chunk grown
//!   past [`DATES_MAX`] pairs. Items of one date sort by sequence number
//!   (insertion order). Newest-first reads walk the chunks backwards and
//!   stop after `limit` hits; pruning and export walk them forwards;
//!   pruning takes pairs out and deletes a chunk it empties.
//! - `sources`: sequence number ‖ position (big-endian u32) → postcard
//!   [`Source`]: the sources an item gained after its record was written.
//!   A story another feed brought already costs its commit one `keys`
//!   write and one small insert here; its record is neither read, decoded,
//!   encoded nor rewritten (version 3 rewrote it for every new source, and
//!   the parser read it first). Readers append these to the record's own
//!   sources ([`SledStore::record`]).
//! - `seen_by_date`: first seen ‖ key → (), to expire pruned items' entries
//!   in `keys` without a scan.
//! - `feeds`: feed URL → JSON [`FeedState`] (validators, last fetch, schedule).
//!   JSON because it is small, per feed, and grows fields often.
//! - `meta`: the schema version, the number of stored items and the next
//!   sequence number (kept by the group commits that add items and the
//!   transactions that prune them, so that opening the store walks nothing).
//! - `journal`: part number (big-endian u32) → a part of one group's final
//!   values, packed with lz4 (zstd before version 10; see "Group commit"
//!   below); empty between
//!   groups. Version 8 is
//!   version 7 with this tree ([`migrate_v7`]).
//! - `fulltext`, `fulltext_held`, `fulltext_feeds`, `fulltext_sites`: the
//!   full-text claims and counts (see [`FullTextRecord`]), and
//!   `fulltext_pending`: key → () for each claim still pending, so that
//!   reading the backlog back touches only pending claims (version 4 walked
//!   every record, finished ones included; [`migrate_v4`] builds it).
//! - `fulltext_held_by_time`: hold end ‖ key → () for each `fulltext_held`
//!   entry, so that the daemon's release tick reads only the holds that
//!   are due, not every held key each second. Added beside version 7
//!   without a version of its own: [`SledStore::open`] indexes any held
//!   entry it lacks (a store of an older build), and the release passes
//!   over an entry whose hold is gone ([`SledStore::release_expired_full_text`]).
//!
//! Version 9 is version 8 with fingerprints: its `keys` entries of stored
//! items may carry one (tag [`STORED_PRINTED`]); version 8's (tag
//! [`STORED_DATED`]) stay as they are and read as items without one,
//! whose first sighting records it and revises nothing (a revision must be
//! the publisher's, not our own processing changed by the upgrade). The
//! journal may hold rewritten records (a revision's, `keyed_records`
//! values). Opening a version-8 store only writes the new number
//! ([`migrate_v8`]), which keeps a build of version 8 from reading an entry
//! or a journal it cannot.
//!
//! Version 1 kept each whole record in `items` under its canonical link, with
//! a `by_date` index and a `seen` tree: every dedup lookup and every insert
//! pulled a leaf of full records from a random place in the tree (the
//! largest store cost in BENCHMARKS.md, Run 4). Opening a version-1 store
//! rewrites it in this layout ([`migrate_v1`]). Version 3 kept no date in
//! `keys` and every source in the record: its `keys` entries gain their
//! date on open ([`migrate_v3`]); its records stay as they are. Version 4
//! had no `fulltext_pending` ([`migrate_v4`]). Versions 2 to 5 kept one
//! `records` entry per record (sequence number → packed record) and one
//! `dates` entry per item (sort date ‖ key → sequence number): opening a
//! version-5 store puts each record's key in front of it and rewrites the
//! dates as chunks ([`migrate_v5`]); older versions migrate to 5 first. (Version 6, records keyed by date ‖ number, was
//! built and measured, never released: BENCHMARKS.md, Run 10.)
//!
//! Invariants: an item is inserted once and never becomes new again (a
//! revision rewrites its record in place: same number, key, date pair and
//! sources; it is never new again); a
//! crash (SIGKILL or power loss, at any point) leaves either all of a
//! fetched document's items (with their index entries, sources, claims and
//! counts) or none: each group of documents reaches one commit point, the
//! last part of its journal (below).
//!
//! Group commit: [`SledStore::ingest`] hands its document to one writer
//! thread per store, which commits every document waiting at that moment (at
//! most [`GROUP_DOCS`] documents, [`GROUP_ITEMS`] items) together, then
//! answers each caller with its own document's report. Nothing waits to
//! fill a group: the latency bound is one commit. Records are encoded by the
//! caller, on its own core. Durability is unchanged: a commit is in sled's
//! log when its callers are answered, and `flush` (before every publish)
//! makes it durable.
//!
//! The commit is plain sled writes, not a transaction ([`commit`]): sled
//! 0.34 holds its process-wide concurrency lock exclusively for a whole
//! transaction, so every parse lookup and feed-state read queued behind
//! the writer (~65 % of a cold round), and each transaction forced log
//! writes (BENCHMARKS.md, Run 15 "the cold round's idle core", Run 16).
//! Plain writes take that lock shared (not at all until some transaction
//! has run). Instead: (1) the group's outcome is computed with plain reads;
//! (2) its new records are written under numbers from `meta`'s next one,
//! which nothing refers to yet; (3) every other final value (`keys`,
//! `sources`, date chunks, `meta`'s counters, the claims' `fulltext`,
//! `fulltext_held`, `fulltext_held_by_time` and `fulltext_pending`
//! entries) is written to `journal`, the last part marked: the commit
//! point (parts of at most [`JOURNAL_PART`] bytes, so that no journal leaf
//! reaches sled's blob size whatever a document holds; a group whose
//! journal would pass [`JOURNAL_MAX`] is committed in halves, which bounds
//! what one group holds and writes twice); (4) those values are applied; (5)
//! the journal is removed. [`SledStore::open`] replays a journal whose last
//! part is there (final values: applying twice is applying once), drops
//! one without it, and removes records at or above `meta`'s next number,
//! before anything reads the store.
//!
//! This rests on sled recovering a prefix of its log: recovery reads the
//! log in LSN order and stops at the first torn or corrupt message (every
//! message carries a CRC; `LogIter::next` and
//! `check_contiguity_in_unstable_tail` in sled 0.34.7's
//! `src/pagecache/iterator.rs`), so no write survives a crash without the
//! writes this thread made before it. sled's own transactions rely on the
//! same: a torn batch cuts recovery short there ("cutting recovery short
//! due to torn batch"), nothing after it is replayed.
//!
//! Apply order, for readers that see a group half applied (parse lookups,
//! renders, `get`): claims first (an item is held before a render can find
//! it), then sources, date chunks, `keys`, `meta`. Records are written
//! before any of them, so a date pair or a `keys` entry names only a record
//! that exists; a reader may see a new source before the `keys` entry that
//! lists its feed (a parse builds that sighting again, and the next group
//! finds it known), or a group's date pairs before its `keys` entries.
//!
//! Mutual exclusion: the writer holds [`SledStore::writes`] from a group's
//! first read to its journal's removal, and every other method writing a
//! tree a group writes takes it too: [`SledStore::prune`],
//! [`SledStore::import_seen`], [`SledStore::claim_full_text`],
//! [`SledStore::release_expired_full_text`],
//! [`SledStore::settle_unheld_full_text`], [`SledStore::release_full_text`],
//! [`SledStore::finish_full_text`], [`SledStore::finish_full_text_batch`]
//! and [`SledStore::unclaim_full_text`]. sled's lock used to give this for
//! free; now it also keeps a replayed journal from overwriting a later
//! write (a claim finished between a group's apply and its journal's
//! removal). Feed states, site backoffs and `seen_by_date` reads do not
//! take it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::{decode, encode_packed, FeedState, IngestReport, PruneReport, Retention, StoreError};
use crate::item::{Item, ItemKey, Revision, Sighting, Source, StoredPrint};

/// The sled layout this build reads and writes. Older versions are migrated
/// when opened; anything else is refused.
pub const SCHEMA_VERSION: u32 = 10;

const SCHEMA_KEY: &[u8] = b"schema";
/// `meta` key of the item count (big-endian u64).
const COUNT_KEY: &[u8] = b"items";
/// `meta` key of the next record sequence number (big-endian u64).
const SEQ_KEY: &[u8] = b"seq";
/// `meta` key of the first item number whose claims without a hold are not
/// settled yet (big-endian u64; see [`SledStore::settle_unheld_full_text`]):
/// a claim of an older item was counted by the settlement that moved it on.
const SETTLED_KEY: &[u8] = b"settled";
/// The index of pending full-text claims (see the module docs).
const PENDING_TREE: &str = "fulltext_pending";
/// The held full-text claims by the end of their hold (see the module docs).
const HELD_BY_TIME_TREE: &str = "fulltext_held_by_time";
/// The trees of the version-1 layout, dropped once migrated.
const V1_TREES: [&str; 3] = ["items", "by_date", "seen"];
/// A group's final values between its records and their apply (see the
/// module docs).
const JOURNAL_TREE: &str = "journal";
/// The record and date trees of versions 2-5 (one entry per item),
/// dropped once version 7 is durable ([`migrate_v5`]).
const V5_TREES: [&str; 2] = ["records", "dates"];
/// Sequence number → key and packed record (see the module docs).
const RECORD_TREE: &str = "keyed_records";
/// Chunks of (sort date ‖ sequence number) pairs (see the module docs).
const DATE_TREE: &str = "date_chunks";
/// A date chunk grown past this many pairs is cut into pieces of ¾ of it
/// (BENCHMARKS.md, Run 11 "store packed layout": 32 kept sled's pages
/// per item at 0.04-0.12 with the writer's cost down).
const DATES_MAX: usize = 32;

/// sled's page cache. Its default is 1 GiB; outputs read a few hundred
/// recent items, dedup lookups touch one page each, and everything a poll
/// inserts passes through the cache, so a large cache mostly holds a cold
/// round's writes. sled's accounting counts a node's encoded size, and
/// the nodes it holds take about twice that in memory (BENCHMARKS.md, Run
/// 13 "store cache": 2 MiB against 8 then took 2-3 MB off a cold
/// full-text `poll-once` of 1,000 feeds and ~5 MB off 10,000 feeds). Since
/// the journal, jemalloc and lz4 (Runs 16, 20), 8 MiB costs a cold round
/// 1-2 MB of peak at 1,000 feeds (plain and full text) and 4-6 MB at
/// 10,000, and saves most of the pages sled read back from disk: ~55 %
/// fewer `pread`s, 7 % of the writer's instructions and 2 % of the
/// round's at 1,000 feeds (Run 21 "the store writer").
pub const CACHE_CAPACITY: u64 = 8 * 1024 * 1024;

/// At most this many documents are committed together.
pub const GROUP_DOCS: usize = 32;
/// A group stops taking documents once it holds this many items.
pub const GROUP_ITEMS: usize = 4096;
/// Documents that may wait for the writer; callers block beyond that.
const WRITER_QUEUE: usize = 64;

/// How long `open` waits for a lock that this process may be releasing.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// A handle to the open store; cheap to clone (sled trees are `Arc`s).
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    /// Item key → [`KeyEntry`]: dedup, sources, pruned items.
    keys: sled::Tree,
    /// `keyed_records`: sequence number → key and packed record.
    records: sled::Tree,
    /// `date_chunks`: chunks of (sort date ‖ sequence number) pairs.
    dates: sled::Tree,
    /// Sequence number ‖ position → a source gained after the record.
    sources: sled::Tree,
    feeds: sled::Tree,
    /// first-seen ‖ key → (), to expire pruned items' entries without a scan.
    seen_by_date: sled::Tree,
    /// Items stored: sled's `len()` walks the whole tree, so the count is
    /// kept in `meta` and here, up to date through ingest and prune.
    count: Arc<AtomicUsize>,
    /// The last write error, until a flush succeeds (a full disk leaves
    /// reads working, so health checks need this).
    write_failure: Arc<std::sync::Mutex<Option<String>>>,
    /// The schema version, the item count, the next sequence number, and
    /// where the last settlement of claims without a hold ended.
    meta: sled::Tree,
    /// The group-commit thread that [`SledStore::ingest`] hands documents to.
    writer: Arc<Writer>,
    /// Claims without a hold not yet counted (see
    /// [`SledStore::settle_unheld_full_text`]).
    unheld: Arc<std::sync::Mutex<Unheld>>,
    /// The write lock: held by the writer thread for a whole group (reads,
    /// records, journal, apply, the journal's removal) and by every other
    /// method that writes a tree a group writes (see the module docs), so
    /// that none interleaves with a group, and a journal replayed after a
    /// crash overwrites nothing written after it.
    writes: Arc<std::sync::Mutex<Writing>>,
}

/// What the write lock ([`SledStore::writes`]) guards besides the order
/// of writes.
#[derive(Debug, Default)]
struct Writing {
    /// The keys of `date_chunks`, kept by the writer so that a new pair's
    /// chunk (the floor of its pair) is found here: a reverse range read
    /// in sled per new item was ~1 % of a cold round's instructions at 150
    /// and 1,000 feeds, and 2.5 % of its CPU samples at 1,000 (BENCHMARKS.md,
    /// Run 21 "the store writer"). 1-2 bytes per stored item (a key per 16
    /// to 32 pairs). Read from the tree when a group needs it and finds
    /// `None`; a group takes the set and puts it back, with the chunks it
    /// created, only when it ends with `date_chunks` as the set says (so a
    /// group that fails, whose journal a later group or open replays,
    /// leaves it to be read again); [`SledStore::prune`], which deletes
    /// the chunks it empties, takes it out of the set (a chunk it keeps
    /// keeps its key), or leaves `None` when it fails.
    chunk_keys: Option<std::collections::BTreeSet<sled::IVec>>,
}

/// The claims without a hold ([`super::FullTextClaim::hold`]) that are
/// still pending and not yet counted as fallbacks, per feed: counted in
/// memory as this handle takes and finishes them, so that the end of a
/// `poll-once` reads nothing to count them (a walk over 40,000 pending
/// claims there cost as much of the peak as the holds' release it
/// replaced; BENCHMARKS.md, Run 13), and no write per claim or per
/// document either (per-feed counts kept in `meta` by the transactions
/// cost a cold full-text `poll-once` 3 MB; Run 14). Those of a run killed
/// before it settled are found when the store is opened
/// ([`unsettled_claims`]).
#[derive(Debug, Default)]
struct Unheld {
    /// The first item number whose claims are counted here (a claim is
    /// taken only for a new item): [`SETTLED_KEY`] when the store was
    /// opened, then where the last settlement ended. A claim finished with
    /// an older item was counted by an earlier run.
    from: u64,
    /// Per feed: claims taken minus claims finished. Signed: a claim's
    /// page may be finished a moment before its ingest's caller counts it.
    pending: std::collections::HashMap<String, i64>,
}

impl Unheld {
    /// Pending claims without a hold finished (extracted or failed): (feed,
    /// the item's number) each.
    fn finished(&mut self, done: &[(String, u64)]) {
        for (feed_url, seq) in done {
            if *seq >= self.from {
                *self.pending.entry(feed_url.clone()).or_default() -= 1;
            }
        }
    }
}

/// A big-endian u64 as `meta` holds it (absent: 0).
fn stored_count(bytes: Option<&[u8]>) -> u64 {
    bytes
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0)
}

/// `keys` entry tags. `STORED` (versions 2 and 3) has no date; migrated
/// stores and every entry written since use `STORED_DATED`, and since
/// version 9 `STORED_PRINTED` (a fingerprint after the date) for an item
/// whose text's fingerprint is known.
const STORED: u8 = 0;
const SEEN: u8 = 1;
const STORED_DATED: u8 = 2;
const STORED_PRINTED: u8 = 3;

/// What `keys` keeps of a source: the first 8 bytes of the SHA-256 of its
/// feed URL. Two feeds of one store sharing them (odds ~2⁻⁶⁴ per pair)
/// would only cost the second its entry in the item's sources.
fn feed_hash(feed_url: &str) -> [u8; 8] {
    let digest = Sha256::digest(feed_url.as_bytes());
    let mut h = [0; 8];
    h.copy_from_slice(&digest[..8]);
    h
}

/// One `keys` entry, read in place.
#[derive(Debug, PartialEq, Eq)]
enum KeyEntry<'a> {
    /// Stored as record `seq`, sorted by `date` (None only in an entry
    /// version 3 wrote), its first feed's text fingerprinted as `print`
    /// (None in an entry written before version 9, or for an item ingested
    /// without one); `feeds` holds the 8-byte [`feed_hash`] of each
    /// source, back to back, in the order the sources came.
    Stored {
        seq: u64,
        date: Option<i64>,
        print: Option<u64>,
        feeds: &'a [u8],
    },
    /// Pruned; first seen at this time (Unix seconds).
    Seen { first_seen: i64 },
}

impl<'a> KeyEntry<'a> {
    fn read(bytes: &'a [u8]) -> Result<KeyEntry<'a>, StoreError> {
        let word = |b: &[u8]| <[u8; 8]>::try_from(&b[..8]).expect("8 bytes");
        match bytes.split_first() {
            Some((&STORED, rest)) if rest.len() >= 8 && rest.len() % 8 == 0 => Ok(KeyEntry::Stored {
                seq: u64::from_be_bytes(word(rest)),
                date: None,
                print: None,
                feeds: &rest[8..],
            }),
            Some((&STORED_DATED, rest)) if rest.len() >= 16 && rest.len() % 8 == 0 => Ok(KeyEntry::Stored {
                seq: u64::from_be_bytes(word(rest)),
                date: Some(i64::from_be_bytes(word(&rest[8..]))),
                print: None,
                feeds: &rest[16..],
            }),
            Some((&STORED_PRINTED, rest)) if rest.len() >= 24 && rest.len() % 8 == 0 => {
                Ok(KeyEntry::Stored {
                    seq: u64::from_be_bytes(word(rest)),
                    date: Some(i64::from_be_bytes(word(&rest[8..]))),
                    print: Some(u64::from_be_bytes(word(&rest[16..]))),
                    feeds: &rest[24..],
                })
            }
            Some((&SEEN, rest)) if rest.len() == 8 => Ok(KeyEntry::Seen {
                first_seen: i64::from_be_bytes(word(rest)),
            }),
            _ => Err(StoreError::Corrupt(format!(
                "key entry {:02x?}",
                &bytes[..bytes.len().min(16)]
            ))),
        }
    }

    /// True when the item is stored with this feed among its sources, or
    /// was pruned: ingesting it from that feed would change nothing.
    fn knows(&self, feed: &[u8; 8]) -> bool {
        match self {
            KeyEntry::Stored { feeds, .. } => feeds.chunks_exact(8).any(|f| f == feed),
            KeyEntry::Seen { .. } => true,
        }
    }

    /// What this entry tells `feed` of the text it may revise: only the
    /// first source's text is the record's.
    fn print_for(&self, feed: &[u8; 8]) -> StoredPrint {
        match self {
            KeyEntry::Stored { print, feeds, .. } if feeds.get(..8) == Some(&feed[..]) => {
                print.map_or(StoredPrint::Missing, StoredPrint::Is)
            }
            _ => StoredPrint::NotOurs,
        }
    }
}

/// A stored item's `keys` entry. A fingerprint needs a date (every entry
/// written since version 4 has one).
fn stored_entry(
    seq: u64,
    date: Option<i64>,
    print: Option<u64>,
    feeds: impl IntoIterator<Item = [u8; 8]>,
) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + 8 + 8 + 8 + 8);
    match (date, print) {
        (Some(date), Some(print)) => {
            v.push(STORED_PRINTED);
            v.extend_from_slice(&seq.to_be_bytes());
            v.extend_from_slice(&date.to_be_bytes());
            v.extend_from_slice(&print.to_be_bytes());
        }
        (Some(date), None) => {
            v.push(STORED_DATED);
            v.extend_from_slice(&seq.to_be_bytes());
            v.extend_from_slice(&date.to_be_bytes());
        }
        (None, _) => {
            v.push(STORED);
            v.extend_from_slice(&seq.to_be_bytes());
        }
    }
    for f in feeds {
        v.extend_from_slice(&f);
    }
    v
}

/// `sources` key of the source at `position` among an item's sources.
fn source_key(seq: u64, position: usize) -> [u8; 12] {
    let mut k = [0; 12];
    k[..8].copy_from_slice(&seq.to_be_bytes());
    k[8..].copy_from_slice(&u32::try_from(position).unwrap_or(u32::MAX).to_be_bytes());
    k
}

fn seen_entry(first_seen: i64) -> [u8; 9] {
    let mut v = [SEEN; 9];
    v[1..].copy_from_slice(&first_seen.to_be_bytes());
    v
}

/// A big-endian u64 at the start of `b` (at least 8 bytes).
fn word(b: &[u8]) -> u64 {
    u64::from_be_bytes(<[u8; 8]>::try_from(&b[..8]).expect("8 bytes"))
}

/// A `keyed_records` value: the item's key (big-endian u32 length, then
/// the key), so that readers skip by key without a decode, then the
/// packed record.
fn keyed_record(key: &[u8], record: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + key.len() + record.len());
    v.extend_from_slice(&u32::try_from(key.len()).expect("a key under 4 GiB").to_be_bytes());
    v.extend_from_slice(key);
    v.extend_from_slice(record);
    v
}

/// (key, packed record) of a `keyed_records` value.
fn split_record(value: &[u8]) -> Result<KeyedRecord<'_>, StoreError> {
    let len = value
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .filter(|len| len.checked_add(4).is_some_and(|end| end <= value.len()))
        .ok_or_else(|| StoreError::Corrupt(format!("keyed record of {} bytes", value.len())))?;
    Ok((&value[4..4 + len], &value[4 + len..]))
}

/// A `date_chunks` pair: sort date (sign bit flipped) ‖ sequence number.
fn date_pair(date: i64, seq: u64) -> [u8; 16] {
    let mut k = [0; 16];
    k[..8].copy_from_slice(&((date as u64) ^ (1 << 63)).to_be_bytes());
    k[8..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The pairs of a date chunk.
fn chunk_pairs(chunk: &[u8]) -> Result<impl DoubleEndedIterator<Item = &[u8]>, StoreError> {
    if chunk.len() % 16 != 0 {
        return Err(StoreError::Corrupt(format!(
            "date chunk of {} bytes",
            chunk.len()
        )));
    }
    Ok(chunk.chunks_exact(16))
}

/// The chunks `pairs` (sorted) make at `key` (their floor), cut into
/// pieces of ¾ [`DATES_MAX`] when it holds more than that; each piece
/// after the first goes under its own first pair.
fn date_chunk_pieces<'a>(key: &'a [u8], pairs: &'a [[u8; 16]]) -> impl Iterator<Item = (&'a [u8], Vec<u8>)> {
    let pieces = if pairs.len() > DATES_MAX {
        pairs.len().div_ceil(DATES_MAX * 3 / 4)
    } else {
        1
    };
    let per = pairs.len().div_ceil(pieces).max(1);
    pairs.chunks(per).enumerate().map(move |(n, piece)| {
        let k: &[u8] = if n == 0 { key } else { &piece[0] };
        (k, piece.concat())
    })
}

/// One document's items, encoded by the caller, waiting for the writer.
struct Doc {
    entries: Vec<Entry>,
    /// The document's full-text claim, for its entries marked `claim`.
    claim: Option<DocClaim>,
    /// The report, the indexes of the entries claimed, and of the entries
    /// whose record a revision rewrote.
    reply: SyncSender<Result<DocReport, StoreError>>,
}

/// A `full_text` feed's claim on the items of one document that turn out
/// new in the commit: the same pending record (feed, hold) for each, and
/// its held key, written in the commit's transaction (BENCHMARKS.md,
/// Run 6: two writes of their own per item, from every parsing thread,
/// were most of what full text added to a cold round's memory).
struct DocClaim {
    record: Vec<u8>,
    /// When the hold ends; `None` for a claim without a hold
    /// ([`super::FullTextClaim::hold`]): no held entry is written.
    hold_until: Option<i64>,
}

/// One item or sighting of a document, prepared by the caller's thread
/// (encoding, packing, hashing, keys): the writer only looks up and writes.
struct Entry {
    key: Vec<u8>,
    /// A built item: its record, to be stored if the key is new. None for a
    /// [`Sighting`], which can only add its source.
    new: Option<NewRecord>,
    /// The [`feed_hash`] of each source this document gives the item.
    feeds: Vec<[u8; 8]>,
    /// Those sources, encoded for `sources` (used if the key is stored).
    sources: Vec<Vec<u8>>,
    /// Claimed for its full text if new (see [`DocClaim`]).
    claim: bool,
    /// A [`Revision`] of a stored item: its new fingerprint, and the entry
    /// built anew (for an item with a fingerprint). The writer compares it
    /// with the record and rewrites the record if its text differs: under
    /// the write lock, so that an article finished meanwhile
    /// ([`SledStore::finish_full_text`]) is kept. Revisions are rare (a
    /// few in a hundred known entries of news feeds, BENCHMARKS.md Run
    /// 19), so the writer's record read, decode and encode for each cost
    /// it little.
    revise: Option<(u64, Option<Item>)>,
}

struct NewRecord {
    date: i64,
    /// The fingerprint of the item's text, for its `keys` entry.
    print: Option<u64>,
    /// Its `keyed_records` value ([`keyed_record`]).
    record: Vec<u8>,
}

fn encode_source(source: &Source) -> Vec<u8> {
    postcard::to_stdvec(source).expect("sources serialise")
}

/// [`feed_hash`] of the feed URLs of one document's entries, remembering
/// the last: they are nearly always the document's own feed, and a SHA-256
/// per entry was ~0.7 % of a cold round's instructions.
#[derive(Default)]
struct FeedHashes {
    last: Option<(String, [u8; 8])>,
}

impl FeedHashes {
    fn of(&mut self, feed_url: &str) -> [u8; 8] {
        match &self.last {
            Some((url, hash)) if url == feed_url => *hash,
            _ => {
                let hash = feed_hash(feed_url);
                self.last = Some((feed_url.to_owned(), hash));
                hash
            }
        }
    }
}

impl Entry {
    fn of(item: &Item, hashes: &mut FeedHashes) -> Entry {
        Entry {
            claim: false,
            key: item.key.as_str().as_bytes().to_vec(),
            new: Some(NewRecord {
                date: item.date,
                print: item.fingerprint,
                record: keyed_record(item.key.as_str().as_bytes(), &encode_packed(item)),
            }),
            feeds: item.sources.iter().map(|s| hashes.of(&s.feed_url)).collect(),
            sources: item.sources.iter().map(encode_source).collect(),
            revise: None,
        }
    }

    fn sighted(sighting: &Sighting, hashes: &mut FeedHashes) -> Entry {
        Entry {
            claim: false,
            key: sighting.key.as_str().as_bytes().to_vec(),
            new: None,
            feeds: vec![hashes.of(&sighting.source.feed_url)],
            sources: vec![encode_source(&sighting.source)],
            revise: None,
        }
    }

    fn revision(revision: &Revision, hashes: &mut FeedHashes) -> Entry {
        Entry {
            claim: false,
            key: revision.key.as_str().as_bytes().to_vec(),
            new: None,
            feeds: vec![hashes.of(&revision.feed_url)],
            sources: Vec::new(),
            revise: Some((revision.print, revision.item.clone())),
        }
    }
}

/// Owns the writer thread: the last store handle to go closes its queue and
/// waits for it, so the trees (and sled's file lock) are released when the
/// store is dropped, not a moment later.
struct Writer {
    queue: Option<SyncSender<Doc>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: takes the documents waiting, commits them together,
/// answers each. A group that fails is retried one document at a time, so a
/// bad record fails only its own document.
fn write_groups(trees: WriterTrees, queue: Receiver<Doc>) {
    while let Ok(first) = queue.recv() {
        let mut items = first.entries.len();
        let mut group = vec![first];
        while group.len() < GROUP_DOCS && items < GROUP_ITEMS {
            match queue.try_recv() {
                Ok(doc) => {
                    items += doc.entries.len();
                    group.push(doc);
                }
                Err(_) => break,
            }
        }
        for (doc, answer) in group.iter().zip(commit_docs(&trees, &group)) {
            let _ = doc.reply.send(answer);
        }
    }
}

/// A document's report, the indexes of its entries claimed, and of its
/// entries whose record a revision rewrote.
type DocReport = (IngestReport, Vec<usize>, Vec<usize>);

/// One answer per document of `group`: committed together, or in halves
/// when their journal would pass [`JOURNAL_MAX`], or one by one when the
/// group fails.
fn commit_docs(trees: &WriterTrees, group: &[Doc]) -> Vec<Result<DocReport, StoreError>> {
    match commit(trees, group) {
        Ok(Some(reports)) => reports.into_iter().map(Ok).collect(),
        Ok(None) => {
            let (first, rest) = group.split_at(group.len() / 2);
            let mut answers = commit_docs(trees, first);
            answers.extend(commit_docs(trees, rest));
            answers
        }
        Err(e) if group.len() == 1 => vec![Err(e)],
        Err(_) => group
            .iter()
            .flat_map(|doc| commit_docs(trees, std::slice::from_ref(doc)))
            .collect(),
    }
}

/// What an ingest writes: `keys`, `keyed_records`, `date_chunks`,
/// `sources`, `meta`;
/// and `fulltext`, `fulltext_held`, `fulltext_held_by_time`,
/// `fulltext_pending`: the claims written with it. `journal` holds a
/// group's final values between its records and their apply (see the
/// module docs).
#[derive(Clone)]
struct WriterTrees {
    keys: sled::Tree,
    records: sled::Tree,
    dates: sled::Tree,
    sources: sled::Tree,
    meta: sled::Tree,
    fulltext: sled::Tree,
    held: sled::Tree,
    held_by_time: sled::Tree,
    pending: sled::Tree,
    journal: sled::Tree,
    /// The store's write lock ([`SledStore::writes`]), held by a group from
    /// its first read to its journal's removal.
    writes: Arc<std::sync::Mutex<Writing>>,
    /// A group failed after its journal was begun: the next one replays
    /// (or clears) it first.
    dirty: Arc<std::sync::atomic::AtomicBool>,
    /// Tests: stop a group after this step, as a crash there would.
    #[cfg(test)]
    stop_after: Option<Step>,
}

/// The steps of a group's commit that a test can stop after.
#[cfg(test)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    Records,
    Journal,
}

/// The trees a journal entry names, by number.
const J_KEYS: u8 = 0;
const J_SOURCES: u8 = 1;
const J_DATES: u8 = 2;
const J_META: u8 = 3;
const J_FULLTEXT: u8 = 4;
const J_HELD: u8 = 5;
const J_HELD_BY_TIME: u8 = 6;
const J_PENDING: u8 = 7;
/// `keyed_records`: a record a revision rewrote (version 9).
const J_RECORDS: u8 = 8;

/// A group's journal stays under this many bytes: a group that would pass
/// it is committed in halves (a document alone may pass it), which bounds
/// the bytes one group holds in memory and writes twice.
const JOURNAL_MAX: usize = 96 * 1024;
/// A journal part holds at most this many bytes (before packing; lz4
/// grows an incompressible part by ~30 bytes, zstd by a few), unless one value alone is
/// larger. sled writes a node over a
/// quarter of its 512 KiB segment (131,052 bytes) as a blob file of its
/// own, and neither fsyncs a blob nor stops its recovery at a missing one
/// ("dangling blob"), so every journal leaf must stay inline for the prefix
/// argument (module docs) to hold after a power loss. A leaf splits past
/// 16 entries, so it holds at most 17 parts: 17 × 6 KiB = 102 KiB, inline
/// however large a single document's journal is.
const JOURNAL_PART: usize = 6 * 1024;
/// First byte of a journal part: more parts follow, or this is the last
/// (the group's commit point).
const PART_MORE: u8 = 0;
const PART_LAST: u8 = 1;

impl WriterTrees {
    fn tree(&self, id: u8) -> Result<&sled::Tree, StoreError> {
        Ok(match id {
            J_KEYS => &self.keys,
            J_SOURCES => &self.sources,
            J_DATES => &self.dates,
            J_META => &self.meta,
            J_FULLTEXT => &self.fulltext,
            J_HELD => &self.held,
            J_HELD_BY_TIME => &self.held_by_time,
            J_PENDING => &self.pending,
            J_RECORDS => &self.records,
            _ => return Err(StoreError::Corrupt(format!("journal tree {id}"))),
        })
    }
}

/// A group's final values, in the order they are applied, cut into parts
/// of about [`JOURNAL_PART`] bytes: each part is a flag byte, then
/// (tree, big-endian u32 key length, key, big-endian u32 value length,
/// value) per value.
struct Journal {
    parts: Vec<Vec<u8>>,
}

impl Journal {
    fn new() -> Journal {
        Journal { parts: Vec::new() }
    }

    fn put(&mut self, tree: u8, key: &[u8], value: &[u8]) {
        // Closed before the value that would take it past the bound (a
        // part holds at least one value, whatever its size).
        let size = 1 + 4 + key.len() + 4 + value.len();
        if self
            .parts
            .last()
            .is_none_or(|p| p.len() > 1 && p.len() + size > JOURNAL_PART)
        {
            self.parts.push(vec![PART_MORE]);
        }
        let part = self.parts.last_mut().expect("a part");
        part.push(tree);
        for bytes in [key, value] {
            part.extend_from_slice(&u32::try_from(bytes.len()).expect("under 4 GiB").to_be_bytes());
            part.extend_from_slice(bytes);
        }
    }

    /// Bytes in all parts.
    fn len(&self) -> usize {
        self.parts.iter().map(Vec::len).sum()
    }

    /// The parts, the last one marked.
    fn finish(mut self) -> Vec<Vec<u8>> {
        if let Some(last) = self.parts.last_mut() {
            last[0] = PART_LAST;
        }
        self.parts
    }
}

/// A journal value: (tree, key, value).
type JournalValue<'a> = (u8, &'a [u8], &'a [u8]);

/// The values of one journal part.
fn journal_values(part: &[u8]) -> Result<Vec<JournalValue<'_>>, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("journal part of {} bytes", part.len()));
    fn take<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if tail.len() < len {
            return None;
        }
        let (bytes, tail) = tail.split_at(len);
        *rest = tail;
        Some(bytes)
    }
    let mut rest = part.get(1..).ok_or_else(corrupt)?;
    let mut out = Vec::new();
    while let Some((&tree, tail)) = rest.split_first() {
        rest = tail;
        let key = take(&mut rest).ok_or_else(corrupt)?;
        let value = take(&mut rest).ok_or_else(corrupt)?;
        out.push((tree, key, value));
    }
    Ok(out)
}

/// A part as `journal` stores it: its flag byte, then its values packed with
/// lz4 (`store::lz4_pack`). zstd level 1 packed them smaller (a cold
/// 1,000-feed store is ~4 % larger with lz4 parts) but cost the writer, the
/// round's serial section, twice the instructions
/// (BENCHMARKS.md, Run 20 "lz4 packing"); parts an older build left in
/// zstd still replay.
fn pack_part(part: &[u8]) -> Result<Vec<u8>, StoreError> {
    let (flag, values) = part.split_first().expect("a part starts with its flag");
    let packed = super::lz4_pack(values);
    let mut out = Vec::with_capacity(1 + packed.len());
    out.push(*flag);
    out.extend_from_slice(&packed);
    Ok(out)
}

/// A stored part as [`pack_part`] (or an older build, in zstd) wrote it,
/// unpacked.
fn unpack_part(stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("journal part: {e}"));
    let (flag, packed) = stored
        .split_first()
        .ok_or_else(|| StoreError::Corrupt("empty journal part".into()))?;
    let mut part = vec![*flag];
    match super::lz4_unpack(packed) {
        Some(values) => part.extend_from_slice(&values.map_err(|e| corrupt(&e))?),
        None => part.extend_from_slice(&zstd::stream::decode_all(packed).map_err(|e| corrupt(&e))?),
    }
    Ok(part)
}

/// `journal` key of part `n`.
fn part_key(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

/// Writes every value of the journal's parts to its tree, in order.
fn apply_parts(trees: &WriterTrees, parts: &[impl AsRef<[u8]>]) -> Result<(), StoreError> {
    for part in parts {
        for (tree, key, value) in journal_values(part.as_ref())? {
            trees.tree(tree)?.insert(key, value)?;
        }
    }
    Ok(())
}

/// What a crash left in `journal`: a group whose last part is there is
/// applied again (its values are final values, so applying twice is
/// applying once); parts without their last one are a group that never
/// reached its commit point, and go. Then the journal is emptied. Called
/// with the store's write lock held, or before anyone else has the store.
fn replay_journal(trees: &WriterTrees) -> Result<usize, StoreError> {
    let parts: Vec<sled::IVec> = trees.journal.iter().values().collect::<Result<_, _>>()?;
    let complete = parts.last().is_some_and(|p| p.first() == Some(&PART_LAST));
    if complete {
        let parts = parts
            .iter()
            .map(|p| unpack_part(p))
            .collect::<Result<Vec<_>, _>>()?;
        apply_parts(trees, &parts)?;
    }
    for key in trees.journal.iter().keys() {
        trees.journal.remove(key?)?;
    }
    trees.dirty.store(false, Ordering::Relaxed);
    Ok(if complete { parts.len() } else { 0 })
}

/// Records at or above `meta`'s next sequence number: written by a group
/// that a crash stopped before its commit point, referred to by nothing.
/// The next group would overwrite them; they go now so that nothing
/// walking `keyed_records` meets them.
fn sweep_unreachable(trees: &WriterTrees) -> Result<usize, StoreError> {
    let next = stored_count(trees.meta.get(SEQ_KEY)?.as_deref());
    let mut swept = 0;
    for key in trees.records.range(next.to_be_bytes()..).keys() {
        trees.records.remove(key?)?;
        swept += 1;
    }
    Ok(swept)
}

/// One group's commit, with plain writes (no sled transaction, which would
/// hold sled's process-wide lock exclusively and force log writes; see the
/// module docs); one report per document. Under the store's write lock:
///
/// 1. reads and computes: each entry's `keys` entry (this group's own
///    writes first: a key seen twice in the group is new only the first
///    time), each new pair's date chunk, `meta`'s counters;
/// 2. writes the new records under numbers from `meta`'s next one: nothing
///    refers to them yet;
/// 3. writes every other final value as the journal (the last part is the
///    commit point);
/// 4. applies the journal, claims first, then sources, date chunks, `keys`
///    and `meta`, so that a reader sees a date pair or a `keys` entry only
///    for a record that exists, and a held item only once held;
/// 5. removes the journal.
///
/// A known item gains its new sources in `keys` and `sources`; its record
/// is not touched.
/// `None` (before anything is written) when the group holds more than one
/// document and its journal would pass [`JOURNAL_MAX`].
fn commit(trees: &WriterTrees, group: &[Doc]) -> Result<Option<Vec<DocReport>>, StoreError> {
    let mut writing = trees.writes.lock().expect("lock poisoned");
    if trees.dirty.load(Ordering::Relaxed) {
        writing.chunk_keys = None;
        replay_journal(trees)?;
    }
    let WriterTrees {
        keys,
        records,
        dates,
        meta,
        ..
    } = trees;
    // Put back only where the group ends with `date_chunks` as the set
    // says: any failure leaves it to be read again.
    let mut chunk_keys = match writing.chunk_keys.take() {
        Some(keys) => keys,
        None => dates.iter().keys().collect::<Result<_, _>>()?,
    };
    let first = stored_count(meta.get(SEQ_KEY)?.as_deref());
    let mut next = first;
    let mut reports = Vec::with_capacity(group.len());
    let mut new_records: Vec<&[u8]> = Vec::new();
    // New date pairs by the chunk they fall in (its key, found among the
    // stored chunks' keys: every new number is above every stored one, so
    // the floor of date ‖ u64::MAX is the floor of the pair), so that each
    // chunk is written once.
    let mut dated: std::collections::BTreeMap<Option<sled::IVec>, Vec<[u8; 16]>> =
        std::collections::BTreeMap::new();
    // `keys` values this group writes (read back by its later entries).
    let mut key_values: std::collections::BTreeMap<&[u8], Vec<u8>> = std::collections::BTreeMap::new();
    let mut source_values: Vec<([u8; 12], &[u8])> = Vec::new();
    // Records revisions rewrote, by number (read back by a later revision
    // of the same item in the group).
    let mut revised_records: std::collections::BTreeMap<u64, Vec<u8>> = std::collections::BTreeMap::new();
    let mut claims = Journal::new();
    for doc in group {
        let mut report = IngestReport::default();
        let mut claimed = Vec::new();
        let mut revised = Vec::new();
        for (i, entry) in doc.entries.iter().enumerate() {
            let key = entry.key.as_slice();
            let found: Option<sled::IVec> = match key_values.get(key) {
                Some(v) => Some(v.as_slice().into()),
                None => keys.get(key)?,
            };
            if let Some((print, built)) = &entry.revise {
                // Pruned since the parse (nothing to revise), or another
                // feed's text: nothing changes.
                let Some(KeyEntry::Stored {
                    seq,
                    date,
                    print: stored_print,
                    feeds,
                }) = found.as_deref().map(KeyEntry::read).transpose()?
                else {
                    continue;
                };
                if feeds.get(..8) != entry.feeds.first().map(|f| &f[..]) || stored_print == Some(*print) {
                    continue;
                }
                // An item stored without a fingerprint only gains one.
                if let (Some(built), Some(_)) = (built, stored_print) {
                    let value = match revised_records.get(&seq) {
                        Some(v) => Some(sled::IVec::from(v.as_slice())),
                        None => records.get(seq.to_be_bytes())?,
                    };
                    if let Some(value) = value {
                        let stored = decode(split_record(&value)?.1)?;
                        if let Some(new) = super::revised(&stored, built, extracted(&trees.fulltext, key)?) {
                            revised_records.insert(seq, keyed_record(key, &encode_packed(&new)));
                            report.revised += 1;
                            revised.push(i);
                        }
                    }
                }
                let hashes = feeds
                    .chunks_exact(8)
                    .map(|f| <[u8; 8]>::try_from(f).expect("8 bytes"));
                key_values.insert(key, stored_entry(seq, date, Some(*print), hashes));
                continue;
            }
            let Some(found) = found else {
                let Some(new) = &entry.new else {
                    // A sighting whose item went since the parser saw it
                    // (pruned, and its seen record expired): nothing to add
                    // a source to.
                    report.duplicate += 1;
                    continue;
                };
                let seq = next;
                next += 1;
                key_values.insert(
                    key,
                    stored_entry(seq, Some(new.date), new.print, entry.feeds.iter().copied()),
                );
                new_records.push(&new.record);
                let floor = chunk_keys
                    .range::<[u8], _>((
                        std::ops::Bound::Unbounded,
                        std::ops::Bound::Included(&date_pair(new.date, u64::MAX)[..]),
                    ))
                    .next_back()
                    .cloned();
                dated.entry(floor).or_default().push(date_pair(new.date, seq));
                report.new += 1;
                if let (true, Some(claim)) = (entry.claim, &doc.claim) {
                    claims.put(J_FULLTEXT, key, &claim.record);
                    if let Some(until) = claim.hold_until {
                        claims.put(J_HELD, key, &until.to_be_bytes());
                        claims.put(J_HELD_BY_TIME, &hold_key(until, key), &[]);
                    }
                    claims.put(J_PENDING, key, &[]);
                    claimed.push(i);
                }
                continue;
            };
            report.duplicate += 1;
            // Stored once and pruned since (`Seen`): still not new.
            if let KeyEntry::Stored {
                seq,
                date,
                print,
                feeds,
            } = KeyEntry::read(&found)?
            {
                let mut all = feeds.to_vec();
                for (feed, source) in entry.feeds.iter().zip(&entry.sources) {
                    if !all.chunks_exact(8).any(|f| f == feed) {
                        let position = all.len() / 8;
                        source_values.push((source_key(seq, position), source.as_slice()));
                        all.extend_from_slice(feed);
                    }
                }
                if all.len() > feeds.len() {
                    let hashes = all
                        .chunks_exact(8)
                        .map(|f| <[u8; 8]>::try_from(f).expect("8 bytes"));
                    key_values.insert(key, stored_entry(seq, date, print, hashes));
                    report.merged += 1;
                }
            }
        }
        reports.push((report, claimed, revised));
    }
    // The journal, in apply order: claims (an item is held before a render
    // can find it), records revisions rewrote (through the journal, not
    // before it as new records are: they are rewritten in place, and must
    // be all of their document or none, as its fingerprints are), sources,
    // dates, keys, meta.
    let mut journal = claims;
    for (seq, record) in &revised_records {
        journal.put(J_RECORDS, &seq.to_be_bytes(), record);
    }
    for (k, v) in &source_values {
        journal.put(J_SOURCES, k, v);
    }
    // Dates: each chunk touched rewritten once, cut when too large. No
    // floor: the pairs start a chunk at their first pair, still in order
    // (the chunk before holds only smaller pairs).
    // Chunks this group creates, for the writer's keys once applied.
    let mut new_chunks: Vec<sled::IVec> = Vec::new();
    for (floor, mut pairs) in dated {
        pairs.sort_unstable();
        let old = match floor {
            Some(k) => match dates.get(&k)? {
                Some(old) => Some((k.to_vec(), old)),
                None => {
                    // Only the writer and prune (which forgets the keys)
                    // change the set under this lock: a key without its
                    // chunk means the set is wrong. It is read again for
                    // the documents' retries.
                    return Err(StoreError::Corrupt(
                        "date chunk gone from the writer's keys".into(),
                    ));
                }
            },
            None => None,
        };
        let existed = old.is_some();
        let (key, mut all) = match old {
            Some((key, old)) => {
                let pairs: Vec<[u8; 16]> = chunk_pairs(&old)?
                    .map(|p| p.try_into().expect("16 bytes"))
                    .collect();
                (key, pairs)
            }
            None => (pairs[0].to_vec(), Vec::new()),
        };
        all.extend_from_slice(&pairs);
        all.sort_unstable();
        for (k, v) in date_chunk_pieces(&key, &all) {
            if k != key.as_slice() || !existed {
                new_chunks.push(k.into());
            }
            journal.put(J_DATES, k, &v);
        }
    }
    for (k, v) in &key_values {
        journal.put(J_KEYS, k, v);
    }
    if next > first {
        let count = stored_count(meta.get(COUNT_KEY)?.as_deref());
        journal.put(J_META, SEQ_KEY, &next.to_be_bytes());
        journal.put(J_META, COUNT_KEY, &(count + (next - first)).to_be_bytes());
    }
    let journal_bytes = journal.len();
    if group.len() > 1 && journal_bytes > JOURNAL_MAX {
        writing.chunk_keys = Some(chunk_keys);
        return Ok(None);
    }
    tracing::debug!(
        docs = group.len(),
        new = next - first,
        journal_bytes,
        "Group committed."
    );
    for (seq, record) in (first..).zip(new_records) {
        records.insert(seq.to_be_bytes(), record)?;
    }
    #[cfg(test)]
    if trees.stop_after == Some(Step::Records) {
        return Err(StoreError::Corrupt("stopped after the records (test)".into()));
    }
    let parts = journal.finish();
    if parts.is_empty() {
        writing.chunk_keys = Some(chunk_keys);
        return Ok(Some(reports));
    }
    // From here a failure leaves a journal for the next group to settle.
    trees.dirty.store(true, Ordering::Relaxed);
    for (n, part) in parts.iter().enumerate() {
        trees.journal.insert(part_key(n), pack_part(part)?)?;
    }
    #[cfg(test)]
    if trees.stop_after == Some(Step::Journal) {
        return Err(StoreError::Corrupt("stopped after the journal (test)".into()));
    }
    // Past the commit point the group is stored, as a reopen would show:
    // a failure to apply leaves the journal to the next group (or the next
    // open) and still answers the callers with their reports. A disk that
    // takes no writes fails the next flush, before anything is published.
    let applied = apply_parts(trees, &parts).and_then(|()| {
        for n in 0..parts.len() {
            trees.journal.remove(part_key(n))?;
        }
        Ok(())
    });
    match applied {
        Ok(()) => {
            trees.dirty.store(false, Ordering::Relaxed);
            chunk_keys.extend(new_chunks);
            writing.chunk_keys = Some(chunk_keys);
        }
        Err(e) => tracing::warn!(error = %e, "A committed group is left to its journal."),
    }
    Ok(Some(reports))
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

fn unwrap_tx<T>(result: Result<T, TransactionError<StoreError>>) -> Result<T, StoreError> {
    result.map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => StoreError::Sled(e),
    })
}

/// True when the item's content is an article extracted for it (its
/// full-text record says so): a revision by its feed keeps it.
fn extracted(fulltext: &sled::Tree, key: &[u8]) -> Result<bool, StoreError> {
    Ok(match fulltext.get(key)? {
        Some(bytes) => {
            serde_json::from_slice::<FullTextRecord>(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("full-text record: {e}")))?
                .state
                == FullTextState::Extracted
        }
        None => false,
    })
}

/// Rewrites a version-1 store in this layout: every record once under a
/// new sequence number (oldest date first), its `keys` entry and date
/// index entry, and a `keys` entry for each pruned item (`seen_by_date` is
/// the same in both), then writes version 4 ([`migrate_v4`] follows). The version-1 trees are only read until the new
/// schema version is durable, so a migration cut short starts again from
/// them at the next open; they are dropped last.
fn migrate_v1(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    const CHUNK: usize = 1024;
    for name in ["keys", "records", "dates"] {
        db.drop_tree(name)?;
    }
    let (items, by_date, seen) = (
        db.open_tree("items")?,
        db.open_tree("by_date")?,
        db.open_tree("seen")?,
    );
    let (keys, records, dates) = (
        db.open_tree("keys")?,
        db.open_tree("records")?,
        db.open_tree("dates")?,
    );
    let mut batches = (
        sled::Batch::default(),
        sled::Batch::default(),
        sled::Batch::default(),
    );
    let mut pending = 0;
    let apply = |b: &mut (sled::Batch, sled::Batch, sled::Batch)| -> Result<(), StoreError> {
        keys.apply_batch(std::mem::take(&mut b.0))?;
        records.apply_batch(std::mem::take(&mut b.1))?;
        dates.apply_batch(std::mem::take(&mut b.2))?;
        Ok(())
    };
    let mut seq = 0u64;
    for entry in by_date.iter() {
        let (k, _) = entry?;
        let key = &k[8..];
        let Some(bytes) = items.get(key)? else {
            continue;
        };
        let item = decode(&bytes)?;
        let feeds = item.sources.iter().map(|s| feed_hash(&s.feed_url));
        batches
            .0
            .insert(key, stored_entry(seq, Some(item.date), None, feeds));
        batches.1.insert(&seq.to_be_bytes(), encode_packed(&item));
        batches.2.insert(k.as_ref(), &seq.to_be_bytes());
        seq += 1;
        pending += 1;
        if pending == CHUNK {
            apply(&mut batches)?;
            pending = 0;
        }
    }
    let mut pruned = 0usize;
    for entry in seen.iter() {
        let (key, first_seen) = entry?;
        let first_seen = <[u8; 8]>::try_from(first_seen.as_ref())
            .map(i64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt("seen record".into()))?;
        batches.0.insert(key, &seen_entry(first_seen));
        pruned += 1;
        pending += 1;
        if pending == CHUNK {
            apply(&mut batches)?;
            pending = 0;
        }
    }
    apply(&mut batches)?;
    meta.insert(SEQ_KEY, &seq.to_be_bytes())?;
    meta.insert(COUNT_KEY, &seq.to_be_bytes())?;
    set_schema(db, meta, 4)?;
    tracing::info!(
        items = seq,
        pruned,
        version = 4,
        "Store migrated from schema version 1."
    );
    Ok(())
}

/// Version 2 is version 3 with plain records: packs every record in place,
/// in batches, then writes version 3 ([`migrate_v3`] follows). [`decode`]
/// reads both forms, so a migration cut short leaves a readable mix and
/// starts again (records already packed are unpacked and packed again,
/// unchanged).
fn migrate_v2(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let records = db.open_tree("records")?;
    let mut out = Batched::new(&records);
    for entry in records.iter() {
        let (seq, bytes) = entry?;
        out.insert(seq, encode_packed(&decode(&bytes)?))?;
    }
    let packed = out.finish()?;
    set_schema(db, meta, 3)?;
    tracing::info!(
        items = packed,
        version = 3,
        "Store migrated from schema version 2."
    );
    Ok(())
}

/// Version 3 is version 4 without dates in `keys` and without `sources`
/// (every source was in the record, where version 4 still reads it): walks
/// the date index and writes each stored item's `keys` entry again with its
/// date, in batches, then version 4 ([`migrate_v4`] follows). A migration
/// cut short starts again; entries written already are written the same.
fn migrate_v3(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let (keys, dates) = (db.open_tree("keys")?, db.open_tree("dates")?);
    let mut out = Batched::new(&keys);
    for entry in dates.iter() {
        let (k, _) = entry?;
        let key = &k[8..];
        let Some(found) = keys.get(key)? else {
            continue;
        };
        let KeyEntry::Stored { seq, feeds, .. } = KeyEntry::read(&found)? else {
            continue;
        };
        let hashes = feeds
            .chunks_exact(8)
            .map(|f| <[u8; 8]>::try_from(f).expect("8 bytes"));
        out.insert(key, stored_entry(seq, Some(date_of(&k)), None, hashes))?;
    }
    let dated = out.finish()?;
    set_schema(db, meta, 4)?;
    tracing::info!(
        items = dated,
        version = 4,
        "Store migrated from schema version 3."
    );
    Ok(())
}

/// Version 4 is version 5 without `fulltext_pending`: empties it (a
/// migration cut short, or a tree left by a build that did not keep it, may
/// hold keys no longer pending), walks the full-text records once and
/// writes each pending claim's key, in batches, then the new version. A
/// migration cut short starts again from the records, which it only reads.
fn migrate_v4(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let (records, pending) = (db.open_tree("fulltext")?, db.open_tree(PENDING_TREE)?);
    pending.clear()?;
    let mut out = Batched::new(&pending);
    for entry in records.iter() {
        let (k, v) = entry?;
        let Ok(record) = serde_json::from_slice::<FullTextRecord>(&v) else {
            continue;
        };
        if record.state != FullTextState::Pending {
            continue;
        }
        out.insert(k, &[])?;
    }
    let indexed = out.finish()?;
    set_schema(db, meta, 5)?;
    tracing::info!(
        pending = indexed,
        version = 5,
        "Store migrated from schema version 4."
    );
    Ok(())
}

/// Version 5 kept one `records` entry per record (the packed record alone)
/// and one `dates` entry (date ‖ key → sequence number) per item: copies
/// each record under its number into `keyed_records` with its key in front,
/// and rewrites the dates as chunks into `date_chunks` (both emptied first:
/// a migration cut short starts again), in batches, then writes version 7.
/// The version-5 trees are only read until version 7 is durable;
/// [`SledStore::open`] drops them after. Each record is decoded once, for
/// its key (version 5 kept it only in `dates`); its packed bytes are
/// copied.
fn migrate_v5(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    for name in [RECORD_TREE, DATE_TREE] {
        db.drop_tree(name)?;
    }
    let (old_records, old_dates) = (db.open_tree("records")?, db.open_tree("dates")?);
    let (records, dates) = (db.open_tree(RECORD_TREE)?, db.open_tree(DATE_TREE)?);
    let mut out = Batched::new(&records);
    for entry in old_records.iter() {
        let (seq, bytes) = entry?;
        if seq.len() != 8 {
            return Err(StoreError::Corrupt("record number".into()));
        }
        let item = decode(&bytes)?;
        out.insert(seq, keyed_record(item.key.as_str().as_bytes(), &bytes))?;
    }
    let moved = out.finish()?;
    // Dates: version 5 sorts one date's items by key, version 7 by number.
    const DATE_BATCH: usize = 64;
    let per = DATES_MAX * 3 / 4;
    let mut batch = sled::Batch::default();
    let mut queued = 0;
    let mut same_date: Vec<[u8; 16]> = Vec::new();
    let mut pairs: Vec<[u8; 16]> = Vec::new();
    // Moves one date's pairs, sorted, to `pairs`, and queues every full
    // chunk; returns how many.
    let flush_date = |same_date: &mut Vec<[u8; 16]>, pairs: &mut Vec<[u8; 16]>, batch: &mut sled::Batch| {
        same_date.sort_unstable();
        pairs.append(same_date);
        let mut full = 0;
        while pairs.len() >= per {
            let rest = pairs.split_off(per);
            batch.insert(&pairs[0], pairs.concat());
            full += 1;
            *pairs = rest;
        }
        full
    };
    for entry in old_dates.iter() {
        let (k, seq) = entry?;
        let seq = <[u8; 8]>::try_from(seq.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError::Corrupt("date index entry".into()))?;
        if k.len() < 8 {
            return Err(StoreError::Corrupt("date index key".into()));
        }
        let pair = date_pair(date_of(&k), seq);
        if same_date.first().is_some_and(|p| p[..8] != pair[..8]) {
            queued += flush_date(&mut same_date, &mut pairs, &mut batch);
        }
        same_date.push(pair);
        if queued >= DATE_BATCH {
            dates.apply_batch(std::mem::take(&mut batch))?;
            queued = 0;
        }
    }
    flush_date(&mut same_date, &mut pairs, &mut batch);
    if let Some(first) = pairs.first() {
        batch.insert(first, pairs.concat());
    }
    dates.apply_batch(batch)?;
    set_schema(db, meta, 7)?;
    tracing::info!(
        items = moved,
        version = 7,
        "Store migrated from schema version 5."
    );
    Ok(())
}

/// Version 8 is version 7 with the group commit's `journal` tree: nothing
/// to rewrite. The number changes so that a build of version 7, which
/// would not replay a journal a crash left (and could then number new
/// records over those a half-applied group's `keys` entries name), refuses
/// the store.
fn migrate_v7(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    set_schema(db, meta, 8)?;
    tracing::info!(version = 8, "Store migrated from schema version 7.");
    Ok(())
}

/// Version 9 adds fingerprints to `keys` entries and revised records to
/// the journal (see the module docs), beside version 8's forms, which
/// stay valid: nothing is rewritten. The number keeps a build of version 8
/// from opening the store and failing on an entry it cannot read.
fn migrate_v8(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    set_schema(db, meta, 9)?;
    tracing::info!(version = 9, "Store migrated from schema version 8.");
    Ok(())
}

/// Version 10 packs records below 8 KiB and journal parts with lz4
/// (`store::LZ4_TAG`) beside version 9's zstd frames, which stay valid:
/// nothing is rewritten. The number keeps a build of version 9 from opening
/// the store and taking an lz4 record for a corrupt plain one.
fn migrate_v9(db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    set_schema(db, meta, 10)?;
    tracing::info!(version = 10, "Store migrated from schema version 9.");
    Ok(())
}

/// A migration's writes into one tree, applied [`Batched::SIZE`] entries
/// at a time: bounded in memory, each batch atomic, and a migration cut
/// short between two batches is one that its next run writes again.
struct Batched<'a> {
    tree: &'a sled::Tree,
    batch: sled::Batch,
    queued: usize,
    written: usize,
}

impl<'a> Batched<'a> {
    const SIZE: usize = 1024;

    fn new(tree: &'a sled::Tree) -> Self {
        Batched {
            tree,
            batch: sled::Batch::default(),
            queued: 0,
            written: 0,
        }
    }

    fn insert(&mut self, key: impl Into<sled::IVec>, value: impl Into<sled::IVec>) -> Result<(), StoreError> {
        self.batch.insert(key, value);
        self.queued += 1;
        self.written += 1;
        if self.queued == Self::SIZE {
            self.tree.apply_batch(std::mem::take(&mut self.batch))?;
            self.queued = 0;
        }
        Ok(())
    }

    /// Applies what is queued; the number of entries written in all.
    fn finish(self) -> Result<usize, StoreError> {
        self.tree.apply_batch(self.batch)?;
        Ok(self.written)
    }
}

/// Writes schema `version` once everything a migration wrote is durable,
/// and makes it durable itself: the number is the migration's last word, so
/// a crash before it leaves a store whose next open runs the migration again.
fn set_schema(db: &sled::Db, meta: &sled::Tree, version: u32) -> Result<(), StoreError> {
    db.flush()?;
    meta.insert(SCHEMA_KEY, &version.to_be_bytes())?;
    db.flush()?;
    Ok(())
}

/// Drops a tree an older layout left, if there is one, after emptying it
/// a batch at a time: sled's `drop_tree` frees a tree's pages by reading
/// all of them, and held a 1,000-feed store's version-5 trees in memory at
/// once (peak 66-70 MB against 24-25 MB emptied first; BENCHMARKS.md,
/// Run 12). A crash in between leaves a part that the next open empties.
fn drop_emptied(db: &sled::Db, name: &str) -> Result<(), StoreError> {
    const BATCH: usize = 1024;
    if !db.tree_names().iter().any(|n| n == name.as_bytes()) {
        return Ok(());
    }
    let tree = db.open_tree(name)?;
    loop {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for key in tree.iter().keys().take(BATCH) {
            batch.remove(key?);
            n += 1;
        }
        if n == 0 {
            break;
        }
        tree.apply_batch(batch)?;
    }
    db.drop_tree(name)?;
    Ok(())
}

/// The claims without a hold that a run killed before it settled left
/// uncounted ([`Unheld`]): when [`SETTLED_KEY`] is behind the next item
/// number, the pending claims are walked (their keys and records, and the
/// item's number for a claim without a hold) and each one of an item
/// numbered since is counted for its feed. After a run that settled there
/// is nothing to walk; after a daemon (which settles when it starts and
/// then takes only held claims) its pending claims are walked and none is
/// counted. On a store without the key (new, or of an older build) the
/// key is written and nothing is walked.
fn unsettled_claims(db: &sled::Db, meta: &sled::Tree, keys: &sled::Tree) -> Result<Unheld, StoreError> {
    let next = stored_count(meta.get(SEQ_KEY)?.as_deref());
    let Some(from) = meta.get(SETTLED_KEY)?.map(|v| stored_count(Some(&v))) else {
        meta.insert(SETTLED_KEY, &next.to_be_bytes())?;
        return Ok(Unheld {
            from: next,
            ..Unheld::default()
        });
    };
    let mut unheld = Unheld {
        from,
        ..Unheld::default()
    };
    if from >= next {
        return Ok(unheld);
    }
    let (records, pending) = (db.open_tree("fulltext")?, db.open_tree(PENDING_TREE)?);
    for key in pending.iter().keys() {
        let key = key?;
        let Some(Ok(record)) = records
            .get(&key)?
            .map(|v| serde_json::from_slice::<FullTextRecord>(&v))
        else {
            continue;
        };
        if !SledStore::unsettled(&record) {
            continue;
        }
        let Some(entry) = keys.get(&key)? else { continue };
        if let KeyEntry::Stored { seq, .. } = KeyEntry::read(&entry)? {
            if seq >= from {
                *unheld.pending.entry(record.feed_url).or_default() += 1;
            }
        }
    }
    Ok(unheld)
}

impl SledStore {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let db = SledStore::open_db_with_grace(path)?;
        let meta = db.open_tree("meta")?;
        let found = meta.get(SCHEMA_KEY)?.map(|v| {
            <[u8; 4]>::try_from(v.as_ref())
                .map(u32::from_be_bytes)
                .unwrap_or(u32::MAX)
        });
        match found {
            None => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(1) => {
                migrate_v1(&db, &meta)?;
                migrate_v4(&db, &meta)?;
                migrate_v5(&db, &meta)?;
                migrate_v7(&db, &meta)?;
                migrate_v8(&db, &meta)?;
                migrate_v9(&db, &meta)?;
            }
            Some(2) => {
                migrate_v2(&db, &meta)?;
                migrate_v3(&db, &meta)?;
                migrate_v4(&db, &meta)?;
                migrate_v5(&db, &meta)?;
                migrate_v7(&db, &meta)?;
                migrate_v8(&db, &meta)?;
                migrate_v9(&db, &meta)?;
            }
            Some(3) => {
                migrate_v3(&db, &meta)?;
                migrate_v4(&db, &meta)?;
                migrate_v5(&db, &meta)?;
                migrate_v7(&db, &meta)?;
                migrate_v8(&db, &meta)?;
                migrate_v9(&db, &meta)?;
            }
            Some(4) => {
                migrate_v4(&db, &meta)?;
                migrate_v5(&db, &meta)?;
                migrate_v7(&db, &meta)?;
                migrate_v8(&db, &meta)?;
                migrate_v9(&db, &meta)?;
            }
            Some(5) => {
                migrate_v5(&db, &meta)?;
                migrate_v7(&db, &meta)?;
                migrate_v8(&db, &meta)?;
                migrate_v9(&db, &meta)?;
            }
            Some(7) => {
                migrate_v7(&db, &meta)?;
                migrate_v8(&db, &meta)?;
                migrate_v9(&db, &meta)?;
            }
            Some(8) => {
                migrate_v8(&db, &meta)?;
                migrate_v9(&db, &meta)?;
            }
            Some(9) => migrate_v9(&db, &meta)?,
            Some(SCHEMA_VERSION) => {}
            Some(found) => {
                return Err(StoreError::UnknownSchema {
                    path: path.to_owned(),
                    found,
                    reads: SCHEMA_VERSION,
                })
            }
        }
        // Dropped only now that the new layout is durable (a migration may
        // have stopped between the two).
        for name in V1_TREES.iter().chain(&V5_TREES) {
            drop_emptied(&db, name)?;
        }
        let keys = db.open_tree("keys")?;
        let records = db.open_tree(RECORD_TREE)?;
        let dates = db.open_tree(DATE_TREE)?;
        let sources = db.open_tree("sources")?;
        let writes = Arc::new(std::sync::Mutex::new(Writing::default()));
        let trees = WriterTrees {
            keys: keys.clone(),
            records: records.clone(),
            dates: dates.clone(),
            sources: sources.clone(),
            meta: meta.clone(),
            fulltext: db.open_tree("fulltext")?,
            held: db.open_tree("fulltext_held")?,
            held_by_time: index_holds(&db)?,
            pending: db.open_tree(PENDING_TREE)?,
            journal: db.open_tree(JOURNAL_TREE)?,
            writes: writes.clone(),
            dirty: Arc::default(),
            #[cfg(test)]
            stop_after: None,
        };
        // What a crash left of a group, before anything reads the store.
        let replayed = replay_journal(&trees)?;
        let swept = sweep_unreachable(&trees)?;
        if replayed > 0 || swept > 0 {
            tracing::info!(
                journal_parts = replayed,
                records_swept = swept,
                "Store recovered a group a crash stopped."
            );
        }
        let count = match meta.get(COUNT_KEY)? {
            Some(v) => stored_count(Some(&v)) as usize,
            None => {
                let mut n = 0;
                for chunk in dates.iter().values() {
                    n += chunk?.len() / 16;
                }
                meta.insert(COUNT_KEY, &(n as u64).to_be_bytes())?;
                n
            }
        };
        let (queue, waiting) = std::sync::mpsc::sync_channel(WRITER_QUEUE);
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || write_groups(trees, waiting))
            .map_err(|e| StoreError::Sled(e.into()))?;
        let unheld = unsettled_claims(&db, &meta, &keys)?;
        Ok(SledStore {
            keys,
            records,
            dates,
            sources,
            feeds: db.open_tree("feeds")?,
            seen_by_date: db.open_tree("seen_by_date")?,
            count: Arc::new(AtomicUsize::new(count)),
            write_failure: Arc::default(),
            unheld: Arc::new(std::sync::Mutex::new(unheld)),
            writes,
            meta,
            writer: Arc::new(Writer {
                queue: Some(queue),
                thread: Some(thread),
            }),
            db,
        })
    }

    /// sled's background threads let go of the file lock a moment after
    /// the last handle in this process is dropped, so a store closed just
    /// now may still look locked; give it a bounded grace period. Another
    /// process holding the lock still fails, only later.
    fn open_db_with_grace(path: &Path) -> Result<sled::Db, StoreError> {
        let deadline = std::time::Instant::now() + LOCK_GRACE;
        loop {
            match SledStore::open_db(path) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
        sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_CAPACITY)
            // sled's default, kept on purpose. The flusher thread is also
            // sled's only cleaner of log segments with time of its own (a
            // write cleans one page besides): about one segment a tick, and
            // it never stops while half the file's segments are free, so an
            // idle daemon rewrites ~0.1-1 MB/s. Without it (`None`), or
            // with 2-5 s ticks, the file grew every round and every prune
            // (10,000 feeds: 392 MB to 1 GB in 25 rounds; 500 ms stayed at
            // 373 MB) and memory after a prune was no lower; 1 s stepped up
            // at prunes. Durability does not rest on it: we flush before
            // every publish and at shutdown (BENCHMARKS.md, Run 15 "sled's
            // flusher over many rounds").
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::Locked {
                        path: path.to_owned(),
                    }
                }
                other => StoreError::Sled(other),
            })
    }

    /// Stores the items of one document. New keys are inserted; a known key
    /// seen through another feed gains that feed as a source. Atomic per
    /// call; committed together with the documents other threads hand in
    /// at the same moment (see the module docs).
    pub fn ingest(&self, items: &[Item]) -> Result<IngestReport, StoreError> {
        self.ingest_claiming(items, None).map(|(report, _)| report)
    }

    /// [`Self::ingest`], claiming for their full text (as
    /// [`Self::claim_full_text`] would) the items that `claim` wants and
    /// that turn out new, in the same group commit: an item is never
    /// published before its hold, and a failed ingest leaves no claim (an
    /// ingest fails only before its group's commit point).
    /// Returns the keys claimed.
    pub fn ingest_claiming(
        &self,
        items: &[Item],
        claim: Option<&super::FullTextClaim<'_>>,
    ) -> Result<(IngestReport, Vec<ItemKey>), StoreError> {
        self.ingest_document(items, &[], claim)
    }

    /// [`Self::ingest_claiming`] with the document's sightings (stories
    /// other feeds brought), in the same group commit: each adds its source
    /// to the stored item, as an item with that key would.
    pub fn ingest_document(
        &self,
        items: &[Item],
        sightings: &[Sighting],
        claim: Option<&super::FullTextClaim<'_>>,
    ) -> Result<(IngestReport, Vec<ItemKey>), StoreError> {
        self.ingest_parsed(items, sightings, &[], claim)
            .map(|i| (i.report, i.claimed))
    }

    /// [`Self::ingest_document`] with the document's revisions of stored
    /// items ([`super::Store::ingest_parsed`]), in the same group commit.
    pub fn ingest_parsed(
        &self,
        items: &[Item],
        sightings: &[Sighting],
        revisions: &[Revision],
        claim: Option<&super::FullTextClaim<'_>>,
    ) -> Result<super::Ingested, StoreError> {
        if items.is_empty() && sightings.is_empty() && revisions.is_empty() {
            return Ok(super::Ingested::default());
        }
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let mut hashes = FeedHashes::default();
        let mut entries: Vec<Entry> = items.iter().map(|i| Entry::of(i, &mut hashes)).collect();
        entries.extend(sightings.iter().map(|s| Entry::sighted(s, &mut hashes)));
        entries.extend(revisions.iter().map(|r| Entry::revision(r, &mut hashes)));
        let doc_claim = claim.map(|c| {
            for (entry, item) in entries.iter_mut().zip(items) {
                entry.claim = (c.wanted)(item);
            }
            DocClaim {
                record: pending_record(c.feed_url, c.hold_until, c.hold),
                hold_until: c.hold.then_some(c.hold_until),
            }
        });
        let doc = Doc {
            entries,
            claim: doc_claim,
            reply,
        };
        let stopped = || {
            StoreError::Sled(::sled::Error::ReportableBug(
                "the store's writer thread stopped".into(),
            ))
        };
        let queue = self
            .writer
            .queue
            .as_ref()
            .expect("the queue lives as long as the store");
        let result = match queue.send(doc) {
            Ok(()) => answer.recv().unwrap_or_else(|_| Err(stopped())),
            Err(_) => Err(stopped()),
        };
        let (report, claimed, revised) = self.noted(result)?;
        self.count.fetch_add(report.new, Ordering::Relaxed);
        if let Some(c) = claim.filter(|c| !c.hold && !claimed.is_empty()) {
            let mut unheld = self.unheld.lock().expect("lock poisoned");
            *unheld.pending.entry(c.feed_url.to_owned()).or_default() += claimed.len() as i64;
        }
        let first_revision = items.len() + sightings.len();
        Ok(super::Ingested {
            report,
            claimed: claimed.into_iter().map(|i| items[i].key.clone()).collect(),
            revised: revised
                .into_iter()
                .map(|i| revisions[i - first_revision].key.clone())
                .collect(),
        })
    }

    /// Records a failed write, for [`SledStore::write_failure`]. A write
    /// that works does not clear it: sled takes a write into its log's
    /// memory, so a small write (a feed state) goes through while the
    /// document before it found the disk full. Only a flush that works
    /// shows the disk takes writes again ([`SledStore::flush`]).
    fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &result {
            *self.write_failure.lock().expect("lock poisoned") = Some(e.to_string());
        }
        result
    }

    /// The last write error, until a flush has made every write durable.
    pub fn write_failure(&self) -> Option<String> {
        self.write_failure.lock().expect("lock poisoned").clone()
    }

    /// One bounded pruning pass at time `now` (Unix seconds): items older
    /// than the retention or beyond the count limit become seen records;
    /// expired seen records go. At most `batch` of each per call, so a caller
    /// can interleave passes with other work.
    pub fn prune(&self, now: i64, policy: &Retention, batch: usize) -> Result<PruneReport, StoreError> {
        let mut writing = self.writes.lock().expect("lock poisoned");
        // Taken: put back below, without the chunks this pass deletes, once
        // its transaction is through; a failure leaves the writer to read
        // the keys again. (Forgetting them at every pass made the writer
        // read every chunk key again after each batch of a large prune.)
        let chunk_keys = writing.chunk_keys.take();
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(secs(policy.max_age));
        let over = self.item_count().saturating_sub(policy.max_items);
        // (date chunk, pair) of each item to prune, oldest first.
        let mut victims: Vec<(sled::IVec, [u8; 16])> = Vec::new();
        'walk: for entry in self.dates.iter() {
            let (chunk, pairs) = entry?;
            for pair in chunk_pairs(&pairs)? {
                if victims.len() >= batch {
                    break 'walk;
                }
                if date_of(pair) >= cutoff && victims.len() >= over {
                    break 'walk;
                }
                victims.push((chunk.clone(), pair.try_into().expect("16 bytes")));
            }
        }
        let mut report = PruneReport {
            more: victims.len() >= batch,
            ..Default::default()
        };
        // One transaction for the pass: each date chunk touched is
        // rewritten once, not once per item.
        let moved = (
            &self.keys,
            &self.records,
            &self.dates,
            &self.sources,
            &self.seen_by_date,
            &self.meta,
        )
            .transaction(|(keys, records, dates, sources, seen_by_date, meta)| {
                // The pairs still there (another pass may have taken some).
                let mut gone: Vec<u64> = Vec::new();
                // Chunks no longer in the tree (emptied here, or gone
                // already): out of the writer's chunk keys afterwards.
                let mut emptied: Vec<sled::IVec> = Vec::new();
                let mut by_chunk: std::collections::BTreeMap<&[u8], Vec<&[u8; 16]>> =
                    std::collections::BTreeMap::new();
                for (chunk, pair) in &victims {
                    by_chunk.entry(chunk.as_ref()).or_default().push(pair);
                }
                for (chunk, pairs) in by_chunk {
                    let Some(old) = dates.get(chunk)? else {
                        emptied.push(chunk.into());
                        continue;
                    };
                    let mut kept = Vec::with_capacity(old.len());
                    for p in chunk_pairs(&old).map_err(abort)? {
                        if pairs.iter().any(|v| v[..] == *p) {
                            gone.push(word(&p[8..]));
                        } else {
                            kept.extend_from_slice(p);
                        }
                    }
                    if kept.is_empty() {
                        dates.remove(chunk)?;
                        emptied.push(chunk.into());
                    } else if kept.len() < old.len() {
                        dates.insert(chunk, kept)?;
                    }
                }
                let mut keys_gone = Vec::with_capacity(gone.len());
                for seq in gone {
                    // A pair without its record (or a damaged one) has no
                    // key to move: only its pair goes.
                    let Some(record) = records.remove(&seq.to_be_bytes())? else {
                        continue;
                    };
                    let Ok((key, packed)) = split_record(&record) else {
                        continue;
                    };
                    let first_seen = decode(packed).map(|i| i.first_seen).unwrap_or(now);
                    let was = keys.insert(key, &seen_entry(first_seen))?;
                    // The sources gained since the record was written.
                    if let Some(Ok(KeyEntry::Stored { seq, feeds, .. })) = was.as_deref().map(KeyEntry::read)
                    {
                        for position in 0..feeds.len() / 8 {
                            sources.remove(&source_key(seq, position))?;
                        }
                    }
                    seen_by_date.insert(seen_key(first_seen, key), &[])?;
                    keys_gone.push(key.to_vec());
                }
                let count = stored_count(meta.get(COUNT_KEY)?.as_deref());
                let left = count.saturating_sub(keys_gone.len() as u64);
                meta.insert(COUNT_KEY, &left.to_be_bytes())?;
                Ok::<_, ConflictableTransactionError<StoreError>>((keys_gone, emptied))
            });
        let (moved, emptied) = unwrap_tx(moved)?;
        if let Some(mut chunk_keys) = chunk_keys {
            for chunk in &emptied {
                chunk_keys.remove(chunk);
            }
            writing.chunk_keys = Some(chunk_keys);
        }
        for key in moved {
            report.items += 1;
            self.count.fetch_sub(1, Ordering::Relaxed);
            self.forget_full_text(&key)?;
        }

        let seen_cutoff = now.saturating_sub(secs(policy.seen_max_age));
        let mut expired = Vec::new();
        for entry in self.seen_by_date.iter() {
            if expired.len() >= batch {
                report.more = true;
                break;
            }
            let (k, _) = entry?;
            if date_of(&k) >= seen_cutoff {
                break;
            }
            expired.push(k);
        }
        for k in &expired {
            unwrap_tx(
                (&self.keys, &self.seen_by_date).transaction(|(keys, seen_by_date)| {
                    seen_by_date.remove(k.as_ref())?;
                    let key = &k[8..];
                    let pruned = keys
                        .get(key)?
                        .is_some_and(|e| matches!(KeyEntry::read(&e), Ok(KeyEntry::Seen { .. })));
                    if pruned {
                        keys.remove(key)?;
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                }),
            )?;
            report.seen += 1;
        }
        Ok(report)
    }

    /// Seen records kept for pruned items (walks their date index).
    pub fn seen_count(&self) -> usize {
        self.seen_by_date.len()
    }

    /// Calls `f` with every seen record, oldest first, until it returns false.
    pub fn for_each_seen(&self, mut f: impl FnMut(ItemKey, i64) -> bool) -> Result<(), StoreError> {
        for entry in self.seen_by_date.iter() {
            let (k, _) = entry?;
            let key = String::from_utf8_lossy(&k[8..]).into_owned();
            if !f(ItemKey::from_stored(key), date_of(&k)) {
                break;
            }
        }
        Ok(())
    }

    /// Adds seen records for keys neither stored nor seen yet.
    pub fn import_seen(&self, records: &[(ItemKey, i64)]) -> Result<usize, StoreError> {
        let _writing = self.writes.lock().expect("lock poisoned");
        let result = (&self.keys, &self.seen_by_date).transaction(|(keys, seen_by_date)| {
            let mut added = 0;
            for (key, first_seen) in records {
                let k = key.as_str().as_bytes();
                if keys.get(k)?.is_some() {
                    continue;
                }
                keys.insert(k, &seen_entry(*first_seen))?;
                seen_by_date.insert(seen_key(*first_seen, k), &[])?;
                added += 1;
            }
            Ok::<_, ConflictableTransactionError<StoreError>>(added)
        });
        self.noted(unwrap_tx(result))
    }

    /// The record numbered `seq`, decoded, with the sources it gained since
    /// it was written (`sources`, in the order they came; one the record
    /// holds already is not repeated).
    fn record(&self, seq: u64) -> Result<Option<Item>, StoreError> {
        let Some(value) = self.records.get(seq.to_be_bytes())? else {
            return Ok(None);
        };
        let item = decode(split_record(&value)?.1)?;
        self.with_sources(seq, item).map(Some)
    }

    /// `item` (record `seq`) with the sources it gained since.
    fn with_sources(&self, seq: u64, mut item: Item) -> Result<Item, StoreError> {
        for entry in self.sources.scan_prefix(seq.to_be_bytes()) {
            let (_, bytes) = entry?;
            let source: Source =
                postcard::from_bytes(&bytes).map_err(|e| StoreError::Corrupt(format!("source: {e}")))?;
            if !item.sources.iter().any(|s| s.feed_url == source.feed_url) {
                item.sources.push(source);
            }
        }
        Ok(item)
    }

    /// The date pairs, oldest first or newest first, as (date, sequence
    /// number): one read per chunk of pairs.
    fn date_pairs(&self, newest_first: bool) -> impl Iterator<Item = Result<(i64, u64), StoreError>> + '_ {
        let chunks: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if newest_first {
            Box::new(self.dates.iter().rev())
        } else {
            Box::new(self.dates.iter())
        };
        chunks.flat_map(move |chunk| {
            let pairs: Vec<Result<(i64, u64), StoreError>> = match chunk {
                Err(e) => vec![Err(e.into())],
                Ok((_, v)) => match chunk_pairs(&v) {
                    Err(e) => vec![Err(e)],
                    Ok(pairs) => {
                        let pairs = pairs.map(|p| Ok((date_of(p), word(&p[8..]))));
                        if newest_first {
                            pairs.rev().collect()
                        } else {
                            pairs.collect()
                        }
                    }
                },
            };
            pairs
        })
    }

    /// The record number of a stored key (None: unknown or pruned).
    fn seq_of_key(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        match self.keys.get(key)? {
            Some(entry) => match KeyEntry::read(&entry)? {
                KeyEntry::Stored { seq, .. } => Ok(Some(seq)),
                KeyEntry::Seen { .. } => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// A stored item with its record number (to write it back).
    fn stored_item(&self, key: &[u8]) -> Result<Option<(u64, Item)>, StoreError> {
        let Some(seq) = self.seq_of_key(key)? else {
            return Ok(None);
        };
        Ok(self.record(seq)?.map(|item| (seq, item)))
    }

    /// Calls `f` with every stored item, oldest first, until it returns false.
    pub fn for_each_item(&self, mut f: impl FnMut(Item) -> bool) -> Result<(), StoreError> {
        for pair in self.date_pairs(false) {
            let (_, seq) = pair?;
            let Some(value) = self.records.get(seq.to_be_bytes())? else {
                continue;
            };
            let item = self.with_sources(seq, decode(split_record(&value)?.1)?)?;
            if !f(item) {
                break;
            }
        }
        Ok(())
    }

    /// The newest items by date (newest first) for which `keep` holds, at
    /// most `limit` of them. Walks the date index; never scans all items.
    /// Examines at most `scan_limit` index entries, so that a selective
    /// `keep` cannot turn a read into a scan of the whole store.
    pub fn recent(
        &self,
        limit: usize,
        scan_limit: usize,
        keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        self.recent_except(limit, scan_limit, &std::collections::HashSet::new(), keep)
    }

    /// [`Self::recent`] without reading the items whose keys are in
    /// `except`: only their date-index entries are walked.
    pub fn recent_except(
        &self,
        limit: usize,
        scan_limit: usize,
        except: &std::collections::HashSet<ItemKey>,
        keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        self.recent_skipping(
            limit,
            scan_limit,
            |_| false,
            |key| {
                Ok(!except.is_empty()
                    && except.contains(&ItemKey::from_stored(String::from_utf8_lossy(key).into_owned())))
            },
            keep,
        )
    }

    /// The newest-first walk behind [`Self::recent_except`] and
    /// [`Self::recent_unheld`]: `skip_seq` sees each item's number before
    /// its record is read, `skip` its key (in front of its record) before
    /// the record is decoded, so skipped items cost no decode.
    fn recent_skipping(
        &self,
        limit: usize,
        scan_limit: usize,
        mut skip_seq: impl FnMut(u64) -> bool,
        mut skip: impl FnMut(&[u8]) -> Result<bool, StoreError>,
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(limit.min(1024));
        for pair in self.date_pairs(true).take(scan_limit) {
            if out.len() >= limit {
                break;
            }
            let (_, seq) = pair?;
            if skip_seq(seq) {
                continue;
            }
            let Some(value) = self.records.get(seq.to_be_bytes())? else {
                continue;
            };
            let (key, packed) = split_record(&value)?;
            if skip(key)? {
                continue;
            }
            let item = self.with_sources(seq, decode(packed)?)?;
            if keep(&item) {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// True when ingesting this key from this feed would change nothing:
    /// the item is stored with the feed among its sources, or was pruned.
    /// One lookup in `keys`; the record is not read.
    pub fn knows(&self, key: &ItemKey, feed_url: &str) -> bool {
        match self.keys.get(key.as_str().as_bytes()) {
            Ok(Some(entry)) => KeyEntry::read(&entry).is_ok_and(|e| e.knows(&feed_hash(feed_url))),
            Ok(None) | Err(_) => false,
        }
    }

    /// [`super::Store::lookup`]: one `keys` read, which holds the date too;
    /// the record is not read.
    pub fn lookup(&self, key: &ItemKey, feed_url: &str) -> Result<super::Lookup, StoreError> {
        let Some(bytes) = self.keys.get(key.as_str().as_bytes())? else {
            return Ok(super::Lookup::Unknown);
        };
        let entry = KeyEntry::read(&bytes)?;
        // Hashed once: a SHA-256 per question was a fifth of the lookup.
        let feed = feed_hash(feed_url);
        match entry {
            KeyEntry::Stored { date: Some(date), .. } if !entry.knows(&feed) => {
                Ok(super::Lookup::Elsewhere { date })
            }
            // Only in a version-3 entry, which a migration rewrites.
            KeyEntry::Stored { seq, date: None, .. } if !entry.knows(&feed) => match self.record(seq)? {
                Some(item) => Ok(super::Lookup::Elsewhere { date: item.date }),
                None => Err(StoreError::Corrupt(format!(
                    "key {} names record {seq}, which is missing",
                    key.as_str()
                ))),
            },
            KeyEntry::Stored { date, .. } => Ok(super::Lookup::Known {
                date,
                print: entry.print_for(&feed),
            }),
            KeyEntry::Seen { .. } => Ok(super::Lookup::Known {
                date: None,
                print: StoredPrint::NotOurs,
            }),
        }
    }

    /// True when the key is stored or was pruned (its `keys` entry).
    pub fn contains(&self, key: &ItemKey) -> Result<bool, StoreError> {
        Ok(self.keys.contains_key(key.as_str().as_bytes())?)
    }

    /// One item by key.
    pub fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        Ok(self.stored_item(key.as_str().as_bytes())?.map(|(_, item)| item))
    }

    /// The number of stored items.
    pub fn item_count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// The saved state of one feed, if it was ever polled.
    pub fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError> {
        self.feeds
            .get(feed_url.as_bytes())?
            .map(|b| {
                serde_json::from_slice(&b)
                    .map_err(|e| StoreError::Corrupt(format!("feed state of {feed_url}: {e}")))
            })
            .transpose()
    }

    /// Calls `f` with every saved feed state, in URL byte order, until it
    /// returns false: one walk of the tree, not a lookup per feed.
    pub fn for_each_feed_state<T: serde::de::DeserializeOwned>(
        &self,
        mut f: impl FnMut(&str, T) -> bool,
    ) -> Result<(), StoreError> {
        for entry in self.feeds.iter() {
            let (k, v) = entry?;
            let url = String::from_utf8_lossy(&k);
            let state = serde_json::from_slice(&v)
                .map_err(|e| StoreError::Corrupt(format!("feed state of {url}: {e}")))?;
            if !f(&url, state) {
                break;
            }
        }
        Ok(())
    }

    pub fn put_feed_state(&self, feed_url: &str, state: &FeedState) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(state).expect("feed state serialises");
        self.noted(
            self.feeds
                .insert(feed_url.as_bytes(), bytes)
                .map_err(StoreError::from),
        )?;
        Ok(())
    }

    /// Makes every acknowledged write durable.
    pub fn flush(&self) -> Result<(), StoreError> {
        let result = self.db.flush().map(|_| ()).map_err(StoreError::from);
        let mut failure = self.write_failure.lock().expect("lock poisoned");
        *failure = result.as_ref().err().map(|e| e.to_string());
        result
    }

    /// Bytes used on disk, as sled counts them.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

/// Changes record `seq` (stored under `key`) inside a transaction, so
/// that a prune pass cannot take it between the read and the write (and
/// leave a record no date pair points to). False if the record is gone.
fn rewrite_record(
    tx: &sled::transaction::TransactionalTree,
    key: &[u8],
    seq: u64,
    change: impl FnOnce(&mut Item),
) -> Result<bool, ConflictableTransactionError<StoreError>> {
    let Some(value) = tx.get(seq.to_be_bytes())? else {
        return Ok(false);
    };
    let (_, packed) = split_record(&value).map_err(abort)?;
    let mut item = decode(packed).map_err(abort)?;
    change(&mut item);
    tx.insert(&seq.to_be_bytes(), keyed_record(key, &encode_packed(&item)))?;
    Ok(true)
}

/// A `keyed_records` value's (item key, packed record).
type KeyedRecord<'a> = (&'a [u8], &'a [u8]);

/// The date of a date key or pair: its first 8 bytes, the date with its
/// sign bit flipped, so that big-endian byte order is numeric order for
/// negative dates too.
fn date_of(index_key: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&index_key[..8]);
    (u64::from_be_bytes(b) ^ (1 << 63)) as i64
}

fn seen_key(first_seen: i64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.len());
    k.extend_from_slice(&((first_seen as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(key);
    k
}

/// A `fulltext_held_by_time` key: when the hold ends, then the item's key,
/// in the order of [`seen_key`] (signed seconds that sort bytewise).
fn hold_key(until: i64, key: &[u8]) -> Vec<u8> {
    seen_key(until, key)
}

/// The end of a hold as `fulltext_held` stores it (big-endian seconds).
fn hold_end(value: &[u8]) -> i64 {
    <[u8; 8]>::try_from(value).map(i64::from_be_bytes).unwrap_or(0)
}

/// Opens `fulltext_held_by_time` and indexes every `fulltext_held` entry it
/// lacks: on a store written before the index existed, or by such a build
/// since, a hold not indexed would never be released by the tick. One walk
/// of the held keys (the holds of the items whose pages are in flight:
/// none after a `poll-once`, a round's new items after a killed daemon)
/// and a lookup each; written in batches. Index entries whose hold is gone
/// are left to [`SledStore::release_expired_full_text`], which passes over
/// them.
fn index_holds(db: &sled::Db) -> Result<sled::Tree, StoreError> {
    let (held, by_time) = (db.open_tree("fulltext_held")?, db.open_tree(HELD_BY_TIME_TREE)?);
    let mut out = Batched::new(&by_time);
    for entry in held.iter() {
        let (k, v) = entry?;
        let index = hold_key(hold_end(&v), &k);
        if !by_time.contains_key(&index)? {
            out.insert(index, &[])?;
        }
    }
    let indexed = out.finish()?;
    if indexed > 0 {
        tracing::info!(holds = indexed, "Full-text holds indexed by their end.");
    }
    Ok(by_time)
}

/// Where a new item's full-text extraction stands (`full_text = true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FullTextState {
    /// Queued or being fetched.
    Pending,
    /// The article replaced the item's content.
    Extracted,
    /// No article: the item keeps the feed's content.
    Failed,
}

/// One item's full-text record, kept so that a restart neither fetches the
/// page again nor forgets a queued one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullTextRecord {
    pub feed_url: String,
    pub state: FullTextState,
    /// Unix seconds until which the item is held back from outputs while
    /// its article is fetched (`full_text_timeout` after it was first seen).
    pub hold_until: i64,
    /// False once the hold is over: the item is published, with its
    /// article or, until it lands, with the feed's content.
    pub held: bool,
    /// The hold ended before the page was finished (the item was released
    /// with the feed's content and counted then). Tells such a record from
    /// a claim taken without a hold ([`super::FullTextClaim::hold`], sled's
    /// `poll-once`), which is counted when a run settles it
    /// ([`SledStore::settle_unheld_full_text`]) and otherwise reads the
    /// same. Marked on the release, which rewrites the record anyway, not
    /// on every claim without a hold: 14 bytes more in each of a cold
    /// round's 40,000 records cost its peak ~1 MB (BENCHMARKS.md, Run 14).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
    pub error: Option<String>,
}

/// A site whose article pages keep failing: how many times in a row, and
/// until when (Unix seconds) its pages are not fetched. Stored, so that a
/// restart does not hammer a struggling site again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteBackoff {
    pub failures: u32,
    pub until: i64,
}

/// Per-feed full-text counts, for status and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FullTextStats {
    /// Articles extracted and published.
    pub extracted: u64,
    /// Pages that gave no article (fetch or extraction failed): the items
    /// keep the feed's content.
    pub failed: u64,
    /// Items published with the feed's content because their article was
    /// not there within `full_text_timeout` (it may land later).
    pub fallback: u64,
    pub last_error: Option<String>,
    /// Unix seconds.
    pub last_error_at: Option<i64>,
}

/// A new claim's record, as stored.
fn pending_record(feed_url: &str, hold_until: i64, held: bool) -> Vec<u8> {
    let record = FullTextRecord {
        feed_url: feed_url.to_owned(),
        state: FullTextState::Pending,
        hold_until,
        held,
        released: false,
        error: None,
    };
    serde_json::to_vec(&record).expect("records serialise")
}

/// Held items released in one transaction at most.
const RELEASE_BATCH: usize = 512;

/// Full-text records live in their own trees, beside the items they belong
/// to: `fulltext` (item key → [`FullTextRecord`], JSON), `fulltext_held`
/// (keys still held back from outputs: small, read on every render),
/// `fulltext_pending` (keys whose record is pending: what the task reads
/// back) and `fulltext_feeds` (feed URL → [`FullTextStats`]). A key is in
/// `fulltext_pending` exactly while its record is pending: both change in
/// one transaction, except on [`SledStore::finish_full_text`]'s one-item
/// path, which writes the record first, so that a crash between the two
/// leaves at most a key whose record says it is finished (read back and
/// passed over), never a pending claim without its key. A claim taken
/// without a hold (`poll-once`, [`super::FullTextClaim::hold`]) has no
/// `fulltext_held` entry and its record says `held: false` from the start.
impl SledStore {
    fn full_text_trees(&self) -> Result<(sled::Tree, sled::Tree, sled::Tree), StoreError> {
        Ok((
            self.db.open_tree("fulltext")?,
            self.db.open_tree("fulltext_held")?,
            self.db.open_tree("fulltext_feeds")?,
        ))
    }

    fn pending_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(PENDING_TREE)?)
    }

    fn held_by_time(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(HELD_BY_TIME_TREE)?)
    }

    /// Queues a new item for extraction, held back until `hold_until`;
    /// false if it was queued before (by this feed or another), so each
    /// page is fetched once.
    pub fn claim_full_text(
        &self,
        key: &ItemKey,
        feed_url: &str,
        hold_until: i64,
    ) -> Result<bool, StoreError> {
        let _writing = self.writes.lock().expect("lock poisoned");
        let (records, held, _) = self.full_text_trees()?;
        let (pending, by_time) = (self.pending_tree()?, self.held_by_time()?);
        let bytes = pending_record(feed_url, hold_until, true);
        let k = key.as_str().as_bytes();
        let index = hold_key(hold_until, k);
        let claimed = (&records, &held, &by_time, &pending).transaction(
            |(tx_records, tx_held, tx_by_time, tx_pending)| {
                if tx_records.get(k)?.is_some() {
                    return Ok(false);
                }
                tx_records.insert(k, bytes.as_slice())?;
                tx_held.insert(k, &hold_until.to_be_bytes())?;
                tx_by_time.insert(index.as_slice(), &[])?;
                tx_pending.insert(k, &[])?;
                Ok::<_, ConflictableTransactionError<StoreError>>(true)
            },
        );
        self.noted(unwrap_tx(claimed))
    }

    /// One item's full-text record.
    pub fn full_text(&self, key: &ItemKey) -> Result<Option<FullTextRecord>, StoreError> {
        let (records, _, _) = self.full_text_trees()?;
        records
            .get(key.as_str().as_bytes())?
            .map(|b| {
                serde_json::from_slice(&b).map_err(|e| StoreError::Corrupt(format!("full-text record: {e}")))
            })
            .transpose()
    }

    /// Items whose extraction has not finished (to resume after a restart).
    pub fn pending_full_text(&self) -> Result<Vec<(ItemKey, FullTextRecord)>, StoreError> {
        self.pending_full_text_after(None, usize::MAX)
    }

    /// At most `limit` pending claims after `after`, in key order. Walks
    /// `fulltext_pending` and reads only those claims' records: during a
    /// cold round's backlog the task reads pending claims back a page at a
    /// time, and walking every record (finished ones included, decoding
    /// each) pulled the whole `fulltext` tree through sled's cache for
    /// every page near the backlog's end (BENCHMARKS.md, Run 7).
    pub fn pending_full_text_after(
        &self,
        after: Option<&ItemKey>,
        limit: usize,
    ) -> Result<Vec<(ItemKey, FullTextRecord)>, StoreError> {
        let (records, _, _) = self.full_text_trees()?;
        let pending = self.pending_tree()?;
        let range = match after {
            Some(k) => pending.range::<&[u8], _>((
                std::ops::Bound::Excluded(k.as_str().as_bytes()),
                std::ops::Bound::Unbounded,
            )),
            None => pending.iter(),
        };
        let mut out = Vec::new();
        for entry in range.keys() {
            if out.len() >= limit {
                break;
            }
            let k = entry?;
            let Some(v) = records.get(&k)? else {
                continue;
            };
            let Ok(record) = serde_json::from_slice::<FullTextRecord>(&v) else {
                continue;
            };
            if record.state == FullTextState::Pending {
                out.push((
                    ItemKey::from_stored(String::from_utf8_lossy(&k).into_owned()),
                    record,
                ));
            }
        }
        Ok(out)
    }

    /// Keys held back from outputs while their article is fetched.
    pub fn full_text_held(&self) -> Result<std::collections::HashSet<ItemKey>, StoreError> {
        let (_, held, _) = self.full_text_trees()?;
        held.iter()
            .keys()
            .map(|k| Ok(ItemKey::from_stored(String::from_utf8_lossy(&k?).into_owned())))
            .collect()
    }

    /// [`Self::recent`] without the items held for their full text: the
    /// held items' numbers (8 bytes each, not a copy of their keys, which
    /// every render once took) are collected first, and the walk skips
    /// them before reading a record.
    pub fn recent_unheld(
        &self,
        limit: usize,
        scan_limit: usize,
        keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let (_, held, _) = self.full_text_trees()?;
        let none_held = held.is_empty();
        // The held items' numbers, found through `keys` (small entries):
        // the walk then skips them without reading their records. Found by
        // their keys, in front of their records, a render during a cold
        // round's full-text backlog (tens of thousands held) read up to
        // `scan_limit` records, and the daemon's high rose by ~17 MB
        // (BENCHMARKS.md, Run 12 after the merge).
        let mut held_seqs = std::collections::HashSet::new();
        for key in held.iter().keys() {
            if let Some(entry) = self.keys.get(key?)? {
                if let KeyEntry::Stored { seq, .. } = KeyEntry::read(&entry)? {
                    held_seqs.insert(seq);
                }
            }
        }
        self.recent_skipping(
            limit,
            scan_limit,
            |seq| held_seqs.contains(&seq),
            // A hold taken after the numbers were read is still seen.
            |key| Ok(!none_held && held.contains_key(key)?),
            keep,
        )
    }

    /// Releases every item held past its `hold_until` (published with the
    /// feed's content, counted as a fallback); returns how many.
    ///
    /// Reads only the holds that are due: `fulltext_held_by_time` from its
    /// start up to `now`. The daemon calls this every second
    /// (`fulltext::RELEASE_TICK`), and a cold round holds tens of
    /// thousands of items for their pages; walking every held key each
    /// tick to find none due cost O(held) per second (BENCHMARKS.md, Run
    /// 14). A cold round's holds end together (28,000 at once in the
    /// full-text farm): they are released [`RELEASE_BATCH`] at a time, each
    /// batch in one transaction with one count update per feed. An index
    /// entry whose hold is gone (or ends at another time) is dropped
    /// without a count: it was left by a build without the index.
    pub fn release_expired_full_text(&self, now: i64) -> Result<usize, StoreError> {
        let _writing = self.writes.lock().expect("lock poisoned");
        let (records, held, feeds) = self.full_text_trees()?;
        let by_time = self.held_by_time()?;
        // Every index key of a hold ending at `now` or before sorts below
        // this one (`now + 1` and an empty item key); at the end of time,
        // all of them.
        let bound = now.checked_add(1).map(|t| hold_key(t, b""));
        let mut released = 0;
        loop {
            let range = match &bound {
                Some(b) => by_time.range::<&[u8], _>(..b.as_slice()),
                None => by_time.iter(),
            };
            // Released entries leave the index, so each batch reads from
            // its start again.
            let due = range.keys().take(RELEASE_BATCH).collect::<Result<Vec<_>, _>>()?;
            if due.is_empty() {
                return Ok(released);
            }
            let result = (&records, &held, &by_time, &feeds).transaction(
                |(tx_records, tx_held, tx_by_time, tx_feeds)| {
                    let mut n = 0;
                    let mut fallbacks: std::collections::HashMap<String, u64> =
                        std::collections::HashMap::new();
                    for index in &due {
                        tx_by_time.remove(index)?;
                        let Some((until, k)) = index.split_first_chunk::<8>() else {
                            continue;
                        };
                        let until = (u64::from_be_bytes(*until) ^ (1 << 63)) as i64;
                        match tx_held.get(k)? {
                            Some(v) if hold_end(&v) == until => {}
                            _ => continue,
                        }
                        tx_held.remove(k)?;
                        n += 1;
                        let Some(bytes) = tx_records.get(k)? else {
                            continue;
                        };
                        let Ok(mut record) = serde_json::from_slice::<FullTextRecord>(&bytes) else {
                            continue;
                        };
                        record.held = false;
                        record.released = true;
                        tx_records.insert(k, serde_json::to_vec(&record).expect("records serialise"))?;
                        *fallbacks.entry(record.feed_url).or_default() += 1;
                    }
                    for (feed_url, n) in &fallbacks {
                        let mut stats: FullTextStats = tx_feeds
                            .get(feed_url.as_bytes())?
                            .and_then(|b| serde_json::from_slice(&b).ok())
                            .unwrap_or_default();
                        stats.fallback += n;
                        tx_feeds.insert(
                            feed_url.as_bytes(),
                            serde_json::to_vec(&stats).expect("stats serialise"),
                        )?;
                    }
                    Ok::<_, ConflictableTransactionError<StoreError>>(n)
                },
            );
            released += self.noted(unwrap_tx(result))?;
        }
    }

    /// Counts as fallbacks, once, the claims taken without a hold
    /// ([`super::FullTextClaim::hold`]) that are still pending and not yet
    /// counted: those of this run, at `poll-once`'s end, where its one
    /// render publishes them with their feed's content (their pages stay
    /// queued); and those a `poll-once` killed before its end left, at the
    /// end of the next `poll-once` or when the daemon starts (whose first
    /// render publishes them). Returns how many.
    ///
    /// Nothing is read: the counts are in memory ([`Unheld`]). One count
    /// per feed is written, and [`SETTLED_KEY`] moves past the newest item
    /// in the same transaction, so that a claim of an older item finished
    /// later is not taken off again, and a run killed before this leaves
    /// its claims to the next one. Held claims are counted where their hold
    /// ends, so none is counted twice.
    pub fn settle_unheld_full_text(&self) -> Result<usize, StoreError> {
        let _writing = self.writes.lock().expect("lock poisoned");
        let (_, _, feeds) = self.full_text_trees()?;
        let mut unheld = self.unheld.lock().expect("lock poisoned");
        let settled = (&self.meta, &feeds).transaction(|(tx_meta, tx_feeds)| {
            let mut counted = 0;
            for (feed_url, n) in &unheld.pending {
                let Ok(n) = u64::try_from(*n) else { continue };
                if n == 0 {
                    continue;
                }
                let mut stats: FullTextStats = tx_feeds
                    .get(feed_url.as_bytes())?
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
                stats.fallback += n;
                tx_feeds.insert(
                    feed_url.as_bytes(),
                    serde_json::to_vec(&stats).expect("stats serialise"),
                )?;
                counted += n as usize;
            }
            let next = stored_count(tx_meta.get(SEQ_KEY)?.as_deref());
            tx_meta.insert(SETTLED_KEY, &next.to_be_bytes())?;
            Ok::<_, ConflictableTransactionError<StoreError>>((counted, next))
        });
        let (counted, next) = self.noted(unwrap_tx(settled))?;
        unheld.pending.clear();
        unheld.from = next;
        Ok(counted)
    }

    /// True for a claim taken without a hold and still pending: finishing
    /// it takes it off [`Unheld`]'s counts (if its item is numbered since
    /// the last settlement).
    fn unsettled(record: &FullTextRecord) -> bool {
        record.state == FullTextState::Pending && !record.held && !record.released
    }

    /// Ends an item's hold: it is published with what it has. `fallback`
    /// counts it as published without its article.
    pub fn release_full_text(&self, key: &ItemKey, fallback: bool) -> Result<(), StoreError> {
        let _writing = self.writes.lock().expect("lock poisoned");
        let (records, held, feeds) = self.full_text_trees()?;
        let k = key.as_str().as_bytes();
        let Some(until) = held.remove(k)? else {
            return Ok(());
        };
        self.held_by_time()?.remove(hold_key(hold_end(&until), k))?;
        if let Some(mut record) = self.full_text(key)? {
            record.held = false;
            record.released = true;
            records.insert(k, serde_json::to_vec(&record).expect("records serialise"))?;
            if fallback {
                Self::bump(&feeds, &record.feed_url, |s| s.fallback += 1)?;
            }
        }
        Ok(())
    }

    /// Records the outcome of an extraction: the article becomes the item's
    /// content (the feed's summary stays its summary), or the error is
    /// noted. Releases the hold. True when the item changed.
    pub fn finish_full_text(
        &self,
        key: &ItemKey,
        outcome: Result<String, String>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let _writing = self.writes.lock().expect("lock poisoned");
        let (records, held, feeds) = self.full_text_trees()?;
        let k = key.as_str().as_bytes();
        let Some(mut record) = self.full_text(key)? else {
            return Ok(false);
        };
        let seq = self.seq_of_key(k)?;
        let unsettled = Self::unsettled(&record);
        let mut changed = false;
        match outcome {
            Ok(html) => {
                if let Some(seq) = seq {
                    // In a transaction: see `rewrite_record`.
                    let written = self.records.transaction(|tx| {
                        let html = html.clone();
                        rewrite_record(tx, k, seq, move |item| {
                            if item.summary.is_none() {
                                item.summary = item.content.take();
                            }
                            item.content = Some(html);
                        })
                    });
                    changed = self.noted(unwrap_tx(written))?;
                }
                record.state = FullTextState::Extracted;
                record.error = None;
                Self::bump(&feeds, &record.feed_url, |s| s.extracted += 1)?;
            }
            Err(error) => {
                record.state = FullTextState::Failed;
                Self::bump(&feeds, &record.feed_url, |s| {
                    s.failed += 1;
                    s.last_error = Some(error.clone());
                    s.last_error_at = Some(now);
                })?;
                record.error = Some(error);
            }
        }
        if let Some(until) = held.remove(k)? {
            changed = true;
            self.held_by_time()?.remove(hold_key(hold_end(&until), k))?;
        }
        record.held = false;
        records.insert(k, serde_json::to_vec(&record).expect("records serialise"))?;
        // After the record (see the impl's docs).
        self.pending_tree()?.remove(k)?;
        if let (true, Some(seq)) = (unsettled, seq) {
            let mut counts = self.unheld.lock().expect("lock poisoned");
            counts.finished(&[(record.feed_url, seq)]);
        }
        Ok(changed)
    }

    /// [`Self::finish_full_text`] for several items at once, in one
    /// transaction over the item, record, held and per-feed trees: one
    /// commit, and one per-feed count update per feed rather than per item.
    /// During a cold round's backlog (tens of thousands of articles, each
    /// rewriting its item) the writes one by one were the largest memory
    /// cost of full text (BENCHMARKS.md, Run 5). A batch that fails (a
    /// corrupt record) is retried one item at a time, so that only the bad
    /// item fails. One answer per outcome, in order.
    pub fn finish_full_text_batch(
        &self,
        outcomes: &[(ItemKey, Result<String, String>)],
        now: i64,
    ) -> Vec<Result<bool, StoreError>> {
        match self.finish_full_text_together(outcomes, now) {
            Ok(changed) => changed.into_iter().map(Ok).collect(),
            Err(_) if outcomes.len() > 1 => outcomes
                .iter()
                .map(|(key, outcome)| self.finish_full_text(key, outcome.clone(), now))
                .collect(),
            Err(e) => vec![self.noted(Err(e))],
        }
    }

    fn finish_full_text_together(
        &self,
        outcomes: &[(ItemKey, Result<String, String>)],
        now: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let _writing = self.writes.lock().expect("lock poisoned");
        let (records, held, feeds) = self.full_text_trees()?;
        let (pending, by_time) = (self.pending_tree()?, self.held_by_time()?);
        let abort = |e: StoreError| ConflictableTransactionError::Abort(e);
        let trees = (
            &self.keys,
            &self.records,
            &records,
            &held,
            &by_time,
            &feeds,
            &pending,
        );
        let result = trees.transaction(
            |(tx_keys, tx_items, tx_records, tx_held, tx_by_time, tx_feeds, tx_pending)| {
                let mut changed = Vec::with_capacity(outcomes.len());
                // Pending claims without a hold finished: (feed, number).
                let mut unheld = Vec::new();
                // Per feed: (extracted, failed, last error).
                let mut counts: std::collections::HashMap<String, (u64, u64, Option<&String>)> =
                    std::collections::HashMap::new();
                for (key, outcome) in outcomes {
                    let k = key.as_str().as_bytes();
                    let Some(bytes) = tx_records.get(k)? else {
                        changed.push(false);
                        continue;
                    };
                    let mut record: FullTextRecord = serde_json::from_slice(&bytes)
                        .map_err(|e| abort(StoreError::Corrupt(format!("full-text record: {e}"))))?;
                    let mut item_changed = false;
                    let count = counts.entry(record.feed_url.clone()).or_default();
                    let seq = match tx_keys.get(k)? {
                        Some(entry) => match KeyEntry::read(&entry).map_err(abort)? {
                            KeyEntry::Stored { seq, .. } => Some(seq),
                            KeyEntry::Seen { .. } => None,
                        },
                        None => None,
                    };
                    if let (true, Some(seq)) = (Self::unsettled(&record), seq) {
                        unheld.push((record.feed_url.clone(), seq));
                    }
                    match outcome {
                        Ok(html) => {
                            if let Some(seq) = seq {
                                item_changed = rewrite_record(tx_items, k, seq, |item| {
                                    if item.summary.is_none() {
                                        item.summary = item.content.take();
                                    }
                                    item.content = Some(html.clone());
                                })?;
                            }
                            record.state = FullTextState::Extracted;
                            record.error = None;
                            count.0 += 1;
                        }
                        Err(error) => {
                            record.state = FullTextState::Failed;
                            record.error = Some(error.clone());
                            count.1 += 1;
                            count.2 = Some(error);
                        }
                    }
                    if let Some(until) = tx_held.remove(k)? {
                        item_changed = true;
                        tx_by_time.remove(hold_key(hold_end(&until), k))?;
                    }
                    record.held = false;
                    tx_records.insert(k, serde_json::to_vec(&record).expect("records serialise"))?;
                    tx_pending.remove(k)?;
                    changed.push(item_changed);
                }
                for (feed_url, (extracted, failed, error)) in &counts {
                    let mut stats: FullTextStats = tx_feeds
                        .get(feed_url.as_bytes())?
                        .and_then(|b| serde_json::from_slice(&b).ok())
                        .unwrap_or_default();
                    stats.extracted += extracted;
                    stats.failed += failed;
                    if let Some(error) = error {
                        stats.last_error = Some((*error).clone());
                        stats.last_error_at = Some(now);
                    }
                    tx_feeds.insert(
                        feed_url.as_bytes(),
                        serde_json::to_vec(&stats).expect("stats serialise"),
                    )?;
                }
                Ok((changed, unheld))
            },
        );
        let (changed, unheld) = self.noted(unwrap_tx(result))?;
        self.unheld.lock().expect("lock poisoned").finished(&unheld);
        Ok(changed)
    }

    /// Takes back a claim whose item could not be stored, so that the next
    /// poll claims it again.
    pub fn unclaim_full_text(&self, key: &ItemKey) -> Result<(), StoreError> {
        let _writing = self.writes.lock().expect("lock poisoned");
        self.forget_full_text(key.as_str().as_bytes())
    }

    /// Drops a pruned item's full-text record: its seen record already
    /// keeps it from coming back as new.
    fn forget_full_text(&self, key: &[u8]) -> Result<(), StoreError> {
        let (records, held, _) = self.full_text_trees()?;
        records.remove(key)?;
        if let Some(until) = held.remove(key)? {
            self.held_by_time()?.remove(hold_key(hold_end(&until), key))?;
        }
        self.pending_tree()?.remove(key)?;
        Ok(())
    }

    /// A feed's full-text counts.
    pub fn full_text_stats(&self, feed_url: &str) -> Result<FullTextStats, StoreError> {
        let (_, _, feeds) = self.full_text_trees()?;
        Ok(feeds
            .get(feed_url.as_bytes())?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default())
    }

    /// Sites whose pages keep failing (tree `fulltext_sites`: host → JSON
    /// [`SiteBackoff`]).
    pub fn site_backoffs(&self) -> Result<Vec<(String, SiteBackoff)>, StoreError> {
        let sites = self.db.open_tree("fulltext_sites")?;
        let mut out = Vec::new();
        for entry in sites.iter() {
            let (k, v) = entry?;
            if let Ok(b) = serde_json::from_slice(&v) {
                out.push((String::from_utf8_lossy(&k).into_owned(), b));
            }
        }
        Ok(out)
    }

    /// Records (or, with `None`, clears) a site's backoff.
    pub fn put_site_backoff(&self, host: &str, backoff: Option<&SiteBackoff>) -> Result<(), StoreError> {
        let sites = self.db.open_tree("fulltext_sites")?;
        match backoff {
            Some(b) => sites.insert(
                host.as_bytes(),
                serde_json::to_vec(b).expect("backoff serialises"),
            )?,
            None => sites.remove(host.as_bytes())?,
        };
        Ok(())
    }

    fn bump(feeds: &sled::Tree, feed_url: &str, f: impl Fn(&mut FullTextStats)) -> Result<(), StoreError> {
        feeds.fetch_and_update(feed_url.as_bytes(), |old| {
            let mut stats: FullTextStats = old
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            f(&mut stats);
            Some(serde_json::to_vec(&stats).expect("stats serialise"))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::encode;
    use crate::store::suite::item;
    use crate::store::Store;

    #[test]
    fn survives_reopen_and_refuses_second_process_handle() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.ingest(&[item("https://a.example/1", "f1", 10)]).unwrap();
            store
                .put_feed_state(
                    "f1",
                    &FeedState {
                        etag: Some("\"x\"".into()),
                        ..Default::default()
                    },
                )
                .unwrap();
            store.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.item_count(), 1);
        assert_eq!(
            store.feed_state("f1").unwrap().unwrap().etag.as_deref(),
            Some("\"x\"")
        );
        let r = store.ingest(&[item("https://a.example/1", "f1", 10)]).unwrap();
        assert_eq!(r.new, 0);
    }

    /// `poll-once`'s claims without a hold, across runs: each run counts
    /// as fallbacks only the claims it took (the items it stored), so a
    /// page left pending by an earlier run, counted then, is not counted
    /// again when a later run ends with it still pending; a hold left by a
    /// killed daemon ends and counts as before.
    #[test]
    fn claims_without_a_hold_are_counted_by_the_run_that_took_them() {
        let dir = tempfile::tempdir().unwrap();
        let feed = "https://aljazeera.example/feed";
        let with_link = |i: &Item| i.link.is_some();
        let claim = crate::store::FullTextClaim {
            feed_url: feed,
            hold_until: 130,
            wanted: &with_link,
            hold: false,
        };
        let first = item("https://aljazeera.example/بطيء", feed, 100);
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .ingest_claiming(std::slice::from_ref(&first), Some(&claim))
                .unwrap();
            assert_eq!(store.end_full_text_holds().unwrap(), 1);
        }
        let store = Store::open(dir.path()).unwrap();
        let second = item("https://aljazeera.example/القاهرة", feed, 101);
        store
            .ingest_claiming(std::slice::from_ref(&second), Some(&claim))
            .unwrap();
        // A daemon's hold, left by a kill.
        let third = item("https://aljazeera.example/الدلتا", feed, 102);
        assert!(store.claim_full_text(&third.key, feed, 130).unwrap());
        store.ingest(std::slice::from_ref(&third)).unwrap();
        assert_eq!(store.pending_full_text().unwrap().len(), 3);
        assert_eq!(
            store.end_full_text_holds().unwrap(),
            2,
            "the second run's claim and the hold"
        );
        assert_eq!(store.full_text_stats(feed).unwrap().fallback, 3);
        assert_eq!(store.pending_full_text().unwrap().len(), 3, "all still queued");
    }

    /// A store whose holds are not in `fulltext_held_by_time` (written by a
    /// build before it, or by one since) has them indexed on open, and an
    /// index entry whose hold is gone is passed over and dropped without a
    /// count.
    #[test]
    fn holds_missing_from_the_index_are_indexed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let feed = "https://aljazeera.example/feed";
        let items: Vec<Item> = (0..3)
            .map(|i| item(&format!("https://aljazeera.example/القاهرة/{i}"), feed, 100 + i))
            .collect();
        {
            let store = SledStore::open(dir.path()).unwrap();
            for (i, it) in items.iter().enumerate() {
                assert!(store.claim_full_text(&it.key, feed, 130 + i as i64).unwrap());
            }
            store.ingest(&items).unwrap();
            // As an older build leaves it: holds, no index; and an index
            // entry of a hold an older build ended.
            let by_time = store.db.open_tree(HELD_BY_TIME_TREE).unwrap();
            by_time.clear().unwrap();
            by_time
                .insert(hold_key(120, "https://aljazeera.example/انتهى".as_bytes()), &[])
                .unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.db.open_tree(HELD_BY_TIME_TREE).unwrap().len(), 4);
        assert_eq!(
            store.release_expired_full_text(129).unwrap(),
            0,
            "the stale entry counts nothing"
        );
        assert_eq!(store.db.open_tree(HELD_BY_TIME_TREE).unwrap().len(), 3);
        assert_eq!(store.release_expired_full_text(131).unwrap(), 2);
        assert_eq!(store.release_expired_full_text(132).unwrap(), 1);
        assert!(store.full_text_held().unwrap().is_empty());
        assert!(store.db.open_tree(HELD_BY_TIME_TREE).unwrap().is_empty());
        assert_eq!(store.full_text_stats(feed).unwrap().fallback, 3);
    }

    /// A `poll-once` killed before its end never settled its claims
    /// without a hold: the next run counts those still pending (the next
    /// `poll-once` at its end, the daemon when it starts), once, less those
    /// finished meanwhile by either path; a hold that ended (a killed
    /// daemon's) and is finished later lowers nothing.
    #[test]
    fn a_killed_poll_once_s_claims_are_counted_by_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let feed = "https://aljazeera.example/feed";
        let with_link = |i: &Item| i.link.is_some();
        let claim = crate::store::FullTextClaim {
            feed_url: feed,
            hold_until: 130,
            wanted: &with_link,
            hold: false,
        };
        let items: Vec<Item> = (0..4)
            .map(|i| item(&format!("https://aljazeera.example/الخرطوم/{i}"), feed, 100 + i))
            .collect();
        {
            // The killed run: four claims, one article landed, no end.
            let store = Store::open(dir.path()).unwrap();
            store.ingest_claiming(&items, Some(&claim)).unwrap();
            let landed = [(
                items[0].key.clone(),
                Ok("<div dir=\"rtl\"><p>المقال</p></div>".to_owned()),
            )];
            assert!(*store.finish_full_text_batch(&landed, 110)[0].as_ref().unwrap());
            let record = store.full_text(&items[1].key).unwrap().unwrap();
            assert!(!record.held && !record.released);
        }
        {
            // The next poll-once: one more of them fails, one of its own
            // stays pending with the killed run's other two.
            let store = Store::open(dir.path()).unwrap();
            store
                .finish_full_text(&items[1].key, Err("HTTP 404".into()), 120)
                .unwrap();
            let own = item("https://aljazeera.example/الخرطوم/جديد", feed, 200);
            store
                .ingest_claiming(std::slice::from_ref(&own), Some(&claim))
                .unwrap();
            assert_eq!(store.end_full_text_holds().unwrap(), 3);
            let stats = store.full_text_stats(feed).unwrap();
            assert_eq!((stats.extracted, stats.failed, stats.fallback), (1, 1, 3));
        }
        {
            // Counted once: a later run finishing one counts nothing again.
            let store = Store::open(dir.path()).unwrap();
            store
                .finish_full_text(&items[2].key, Ok("<p>وصل</p>".into()), 130)
                .unwrap();
            assert_eq!(store.end_full_text_holds().unwrap(), 0);
            assert_eq!(store.full_text_stats(feed).unwrap().fallback, 3);
        }
        // A killed poll-once, then the daemon: counted when it starts; a
        // hold of the daemon's that ends and is finished later (its record
        // reads `held: false`, pending, as a claim without a hold does)
        // lowers no count.
        let other = "https://alarabiya.example/feed";
        let claim = crate::store::FullTextClaim {
            feed_url: other,
            ..claim
        };
        let more: Vec<Item> = (0..2)
            .map(|i| item(&format!("https://alarabiya.example/بيروت/{i}"), other, 300 + i))
            .collect();
        {
            let store = Store::open(dir.path()).unwrap();
            store.ingest_claiming(&more, Some(&claim)).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.settle_unheld_full_text().unwrap(), 2);
        let held = item("https://alarabiya.example/بيروت/محجوز", other, 400);
        assert!(store.claim_full_text(&held.key, other, 450).unwrap());
        store.ingest(std::slice::from_ref(&held)).unwrap();
        assert_eq!(store.release_expired_full_text(450).unwrap(), 1);
        let late = item("https://alarabiya.example/بيروت/متأخر", other, 500);
        store
            .ingest_claiming(std::slice::from_ref(&late), Some(&claim))
            .unwrap();
        store
            .finish_full_text(&held.key, Ok("<p>وصل</p>".into()), 460)
            .unwrap();
        store
            .finish_full_text(&more[0].key, Ok("<p>وصل</p>".into()), 460)
            .unwrap();
        assert_eq!(store.end_full_text_holds().unwrap(), 1, "the late claim alone");
        let stats = store.full_text_stats(other).unwrap();
        assert_eq!((stats.extracted, stats.fallback), (2, 4));
    }

    #[test]
    fn full_text_claim_hold_finish_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut it = item("https://example.com/cairo", "https://example.com/feed", 100);
        it.content = Some("<p>التفاصيل بعد قليل..</p>".into());
        it.summary = None;
        let key = it.key.clone();
        assert!(store
            .claim_full_text(&key, "https://example.com/feed", 130)
            .unwrap());
        assert!(!store
            .claim_full_text(&key, "https://other.example/feed", 130)
            .unwrap());
        store.ingest(std::slice::from_ref(&it)).unwrap();
        assert!(store.full_text_held().unwrap().contains(&key));
        assert_eq!(store.pending_full_text().unwrap().len(), 1);

        store.release_full_text(&key, true).unwrap();
        assert!(store.full_text_held().unwrap().is_empty());
        let changed = store
            .finish_full_text(
                &key,
                Ok("<div dir=\"rtl\" lang=\"ar\"><p>وصل</p></div>".into()),
                140,
            )
            .unwrap();
        assert!(changed);
        let stored = store.get(&key).unwrap().unwrap();
        assert_eq!(
            stored.content.as_deref(),
            Some("<div dir=\"rtl\" lang=\"ar\"><p>وصل</p></div>")
        );
        // The feed's own text stays as the summary.
        assert_eq!(stored.summary.as_deref(), Some("<p>التفاصيل بعد قليل..</p>"));
        assert!(store.pending_full_text().unwrap().is_empty());
        let stats = store.full_text_stats("https://example.com/feed").unwrap();
        assert_eq!((stats.extracted, stats.failed, stats.fallback), (1, 0, 1));

        // Survives a reopen; pruning the item drops its record.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.full_text(&key).unwrap().unwrap().state,
            FullTextState::Extracted
        );
        let policy = Retention {
            max_age: std::time::Duration::from_secs(10),
            max_items: 10,
            seen_max_age: std::time::Duration::from_secs(1000),
        };
        store.prune(1000, &policy, 100).unwrap();
        assert_eq!(store.full_text(&key).unwrap(), None);
        // Its seen record keeps it from being new (and extracted) again.
        assert!(store.knows(&key, "https://example.com/feed"));
    }

    #[test]
    fn a_corrupt_item_fails_alone_in_a_batch_of_full_text_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let feed = "https://example.com/feed";
        let items: Vec<Item> = (0..3)
            .map(|i| item(&format!("https://example.com/مقال/{i}"), feed, 100 + i))
            .collect();
        for it in &items {
            assert!(store.claim_full_text(&it.key, feed, 130).unwrap());
        }
        store.ingest(&items).unwrap();
        let seq = store
            .seq_of_key(items[1].key.as_str().as_bytes())
            .unwrap()
            .unwrap();
        store
            .records
            .insert(
                seq.to_be_bytes(),
                keyed_record(items[1].key.as_str().as_bytes(), b"\xff\xff not postcard"),
            )
            .unwrap();
        let article = |n: usize| Ok(format!("<div dir=\"rtl\" lang=\"ar\"><p>المقال {n}</p></div>"));
        let outcomes: Vec<_> = items
            .iter()
            .enumerate()
            .map(|(n, it)| (it.key.clone(), article(n)))
            .collect();
        let answers = store.finish_full_text_batch(&outcomes, 140);
        assert!(matches!(answers[0], Ok(true)), "{:?}", answers[0]);
        assert!(
            matches!(answers[1], Err(StoreError::Corrupt(_))),
            "{:?}",
            answers[1]
        );
        assert!(matches!(answers[2], Ok(true)), "{:?}", answers[2]);
        for n in [0, 2] {
            let stored = store.get(&items[n].key).unwrap().unwrap();
            assert_eq!(stored.content, article(n).ok());
            assert_eq!(
                store.full_text(&items[n].key).unwrap().unwrap().state,
                FullTextState::Extracted
            );
        }
        // The bad one is still pending, to be tried again after a restart.
        assert_eq!(
            store.full_text(&items[1].key).unwrap().unwrap().state,
            FullTextState::Pending
        );
        assert_eq!(store.full_text_stats(feed).unwrap().extracted, 2);
    }

    #[test]
    fn records_are_encoded_as_the_versioned_envelope() {
        let mut it = item("https://example.com/القاهرة", "https://example.com/feed", 7);
        it.content = Some("<p dir=\"rtl\">نص الخبر</p>".into());
        let envelope = postcard::to_stdvec(&super::super::Record::V1(it.clone())).unwrap();
        assert_eq!(encode(&it), envelope);
        assert_eq!(decode(&envelope).unwrap(), it);
    }

    #[test]
    fn records_are_packed_and_plain_ones_still_read() {
        let mut it = item("https://example.com/القاهرة", "https://example.com/feed", 7);
        it.title = "عاجل: اجتماع وزراء الخارجية العرب في القاهرة".into();
        it.content = Some("<p dir=\"rtl\">نص الخبر، فقرة بعد فقرة.</p>".repeat(40));
        let (plain, packed) = (encode(&it), encode_packed(&it));
        assert_eq!(packed[0], super::super::LZ4_TAG);
        assert!(
            packed.len() * 4 < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
        assert_eq!(decode(&packed).unwrap(), it);
        assert_eq!(decode(&plain).unwrap(), it);
        // Packing never makes a record larger; a small one reads the same.
        let tiny = item("https://e.x/ب", "f", 1);
        assert!(encode_packed(&tiny).len() <= encode(&tiny).len());
        assert_eq!(decode(&encode_packed(&tiny)).unwrap(), tiny);
        // A damaged packed record is an error, not a panic nor a huge allocation.
        let mut cut = packed.clone();
        cut.truncate(packed.len() / 2);
        assert!(matches!(decode(&cut), Err(StoreError::Corrupt(_))));
        let mut flipped = packed.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0x5a;
        flipped[last - 40] ^= 0xa5;
        assert!(decode(&flipped).map_or(true, |got| got != it));
        let huge = zstd::bulk::compress(&vec![0u8; 65 << 20], 1).unwrap();
        assert!(matches!(decode(&huge), Err(StoreError::Corrupt(_))));
        let mut huge = vec![super::super::LZ4_TAG];
        huge.extend((65u32 << 20).to_le_bytes());
        huge.extend(&packed[5..]);
        assert!(matches!(decode(&huge), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode(&packed[..3]), Err(StoreError::Corrupt(_))));
    }

    /// Packed by this build (lz4) or an older one (zstd).
    fn is_packed(record: &[u8]) -> bool {
        record.starts_with(&super::super::ZSTD_MAGIC) || record.first() == Some(&super::super::LZ4_TAG)
    }

    /// The literals section type of a zstd frame's first block (RFC 8878,
    /// 3.1.1.3.1.1): 0 raw, 1 RLE, 2 Huffman-coded, 3 Huffman with the
    /// previous block's table; `None` when the block is stored, not compressed.
    fn literals_type(frame: &[u8]) -> Option<u8> {
        assert!(frame.starts_with(&super::super::ZSTD_MAGIC));
        let descriptor = frame[4];
        let single_segment = descriptor & 0x20 != 0;
        let content_size = match descriptor >> 6 {
            0 => usize::from(single_segment),
            1 => 2,
            2 => 4,
            _ => 8,
        };
        let dict_id = [0, 1, 2, 4][usize::from(descriptor & 3)];
        let block = 5 + usize::from(!single_segment) + dict_id + content_size;
        let header = u32::from(frame[block]) | u32::from(frame[block + 1]) << 8;
        ((header >> 1) & 3 == 2).then_some(frame[block + 3] & 3)
    }

    /// Items of the windows-1256 Arabic fixture, with a few KB of Arabic
    /// words of our own (xorshift over the alphabet) as their content: a
    /// record's literals, not its repeats, are what level 1 and level -1
    /// pack differently.
    fn arabic_records() -> Vec<Item> {
        let body = include_bytes!("../../tests/fixtures/youm7_cp1256.xml");
        let url = url::Url::parse("https://www.youm7.com/rss").unwrap();
        let feed = crate::parse::FeedRef {
            url: &url,
            name: "youm7",
        };
        let parsed = crate::parse::parse_feed(
            feed,
            body,
            None,
            chrono::Utc::now(),
            crate::parse::Limits::default(),
        )
        .unwrap();
        assert!(parsed.items.len() >= 2);
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        parsed
            .items
            .into_iter()
            .map(|mut it| {
                assert!(it.title.chars().any(|c| ('\u{0621}'..='\u{064a}').contains(&c)));
                let mut text = String::from("<p dir=\"rtl\">");
                while text.len() < 3000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    for i in 0..2 + x % 6 {
                        text.push(char::from_u32(0x0621 + ((x >> (8 * i)) % 42) as u32).unwrap());
                    }
                    text.push(' ');
                }
                text.push_str("</p>");
                it.content = Some(text);
                // As an item reads back: the fingerprint is kept beside
                // the record, not in it.
                it.fingerprint = None;
                it
            })
            .collect()
    }

    #[test]
    fn records_below_8_kib_are_lz4_blocks_and_long_ones_zstd_level_1() {
        for it in arabic_records() {
            let (plain, packed) = (encode(&it), encode_packed(&it));
            // zstd's entropy coding costs more CPU than the bytes it saves
            // are worth (BENCHMARKS.md, Run 15 and Run 20 "lz4 packing").
            assert_eq!(packed[0], super::super::LZ4_TAG);
            assert!(packed.len() < plain.len());
            assert_eq!(decode(&packed).unwrap(), it);
        }
        // A long record keeps them coded: raw, dense Arabic would barely shrink.
        let mut long = arabic_records().remove(0);
        let text = long.content.take().unwrap();
        long.content = Some(text.repeat(4).chars().rev().collect::<String>() + &text.repeat(4));
        let (plain, packed) = (encode(&long), encode_packed(&long));
        assert!(plain.len() >= super::super::LARGE_RECORD);
        assert_eq!(literals_type(&packed), Some(2));
        assert!(
            packed.len() * 10 < plain.len() * 7,
            "{} of {}",
            packed.len(),
            plain.len()
        );
        assert_eq!(decode(&packed).unwrap(), long);
    }

    #[test]
    fn records_packed_with_zstd_still_read_and_the_store_becomes_version_10() {
        let items = arabic_records();
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.ingest(&items).unwrap().new, items.len());
            // Repack the records as older stores have them: level 1
            // (before Run 15) and level -1 (schema 9).
            let values: Vec<_> = store.records.iter().map(Result::unwrap).collect();
            for (i, (seq, value)) in values.into_iter().enumerate() {
                let (key, packed) = split_record(&value).unwrap();
                assert_eq!(packed[0], super::super::LZ4_TAG);
                let level = if i % 2 == 0 { 1 } else { -1 };
                let old = zstd::bulk::compress(&encode(&decode(packed).unwrap()), level).unwrap();
                assert_eq!(literals_type(&old), Some(if level == 1 { 2 } else { 0 }));
                store.records.insert(seq, keyed_record(key, &old)).unwrap();
            }
            store.meta.insert(SCHEMA_KEY, &9u32.to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
            Some(&10u32.to_be_bytes()[..])
        );
        let read = |store: &SledStore| {
            let mut got = store.recent(100, usize::MAX, |_| true).unwrap();
            got.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
            got
        };
        let mut want = items.clone();
        want.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        assert_eq!(read(&store), want);
        for (_, value) in store.records.iter().map(Result::unwrap) {
            assert!(split_record(&value)
                .unwrap()
                .1
                .starts_with(&super::super::ZSTD_MAGIC));
        }
        // A record written now, next to them, is packed the new way.
        let mut fresh = items[0].clone();
        fresh.key = ItemKey::from_stored("https://www.youm7.com/story/جديد".into());
        fresh.link = Some("https://www.youm7.com/story/جديد".into());
        assert_eq!(store.ingest(std::slice::from_ref(&fresh)).unwrap().new, 1);
        let raw = store
            .records
            .iter()
            .map(Result::unwrap)
            .filter(|(_, value)| split_record(value).unwrap().1[0] == super::super::LZ4_TAG)
            .count();
        assert_eq!(raw, 1);
        want.push(fresh);
        want.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        assert_eq!(read(&store), want);
    }

    /// Rewrites a store as version 5 kept it (`records`: one packed record
    /// per number, no key; `dates`: date ‖ key → number), empties
    /// `keyed_records` and `date_chunks` and marks it schema version 5. Returns the
    /// version-5 `records` tree.
    fn downgrade_to_v5(store: &SledStore) -> sled::Tree {
        let (records, dates) = (
            store.db.open_tree("records").unwrap(),
            store.db.open_tree("dates").unwrap(),
        );
        for pair in store.date_pairs(false) {
            let (date, seq) = pair.unwrap();
            let value = store.records.get(seq.to_be_bytes()).unwrap().unwrap();
            let (key, packed) = split_record(&value).unwrap();
            let key = ItemKey::from_stored(String::from_utf8(key.to_vec()).unwrap());
            records.insert(seq.to_be_bytes(), packed).unwrap();
            dates.insert(date_key(date, &key), &seq.to_be_bytes()).unwrap();
        }
        store.records.clear().unwrap();
        store.dates.clear().unwrap();
        store.meta.insert(SCHEMA_KEY, &5u32.to_be_bytes()).unwrap();
        store.flush().unwrap();
        records
    }

    /// Records held in `keyed_records`.
    fn record_count(store: &SledStore) -> usize {
        store.records.len()
    }

    /// Date pairs held in the chunks.
    fn pair_count(store: &SledStore) -> usize {
        store.date_pairs(false).count()
    }

    /// A version-5 (and version-1) date index key: date ‖ item key.
    fn date_key(date: i64, key: &ItemKey) -> Vec<u8> {
        let mut k = Vec::with_capacity(8 + key.as_str().len());
        k.extend_from_slice(&((date as u64) ^ (1 << 63)).to_be_bytes());
        k.extend_from_slice(key.as_str().as_bytes());
        k
    }

    /// Rewrites the first `plain` records of a store as version 2 kept them
    /// (not packed), its `keys` entries as versions 2 and 3 did, and marks
    /// it schema version 2.
    fn make_version_2(store: &SledStore, plain: usize) -> sled::Tree {
        let records = downgrade_to_v5(store);
        for entry in records.iter().take(plain) {
            let (seq, bytes) = entry.unwrap();
            records.insert(seq, encode(&decode(&bytes).unwrap())).unwrap();
        }
        undate_keys(store, usize::MAX);
        store.meta.insert(SCHEMA_KEY, &2u32.to_be_bytes()).unwrap();
        store.flush().unwrap();
        records
    }

    /// Writes the first `n` stored `keys` entries without their date, as
    /// versions 2 and 3 did.
    fn undate_keys(store: &SledStore, n: usize) {
        let stored: Vec<_> = store.keys.iter().map(Result::unwrap).collect();
        for (key, bytes) in stored.into_iter().take(n) {
            if let KeyEntry::Stored { seq, feeds, .. } = KeyEntry::read(&bytes).unwrap() {
                let hashes = feeds.chunks_exact(8).map(|f| <[u8; 8]>::try_from(f).unwrap());
                store
                    .keys
                    .insert(&key, stored_entry(seq, None, None, hashes))
                    .unwrap();
            }
        }
    }

    /// (key, date) of every `keys` entry that holds one; panics on any
    /// stored entry without it.
    fn key_dates(store: &SledStore) -> Vec<(Vec<u8>, i64)> {
        let mut out = Vec::new();
        for entry in store.keys.iter() {
            let (key, bytes) = entry.unwrap();
            if let KeyEntry::Stored { date, .. } = KeyEntry::read(&bytes).unwrap() {
                out.push((key.to_vec(), date.expect("a dated entry")));
            }
        }
        out
    }

    #[test]
    fn a_version_3_store_gains_dates_in_keys_on_open() {
        // All entries undated (a version-3 store), and half of them (a
        // migration cut short).
        for undated in [usize::MAX, 20] {
            let dir = tempfile::tempdir().unwrap();
            // Item 7 holds two sources in its record, as version 3 wrote
            // every merged source.
            let items = v1_items();
            {
                let store = SledStore::open(dir.path()).unwrap();
                assert_eq!(store.ingest(&items).unwrap().new, 40);
                undate_keys(&store, undated);
                // An undated entry still answers (from the record).
                let undated_key = &items[0].key;
                assert_eq!(
                    store.lookup(undated_key, "f9").unwrap(),
                    super::super::Lookup::Elsewhere { date: 1_000 }
                );
                downgrade_to_v5(&store);
                store.meta.insert(SCHEMA_KEY, &3u32.to_be_bytes()).unwrap();
                store.flush().unwrap();
            }
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(
                store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
                Some(&SCHEMA_VERSION.to_be_bytes()[..])
            );
            let mut dates = key_dates(&store);
            dates.sort_by_key(|(_, d)| *d);
            let want: Vec<(Vec<u8>, i64)> = items
                .iter()
                .map(|i| (i.key.as_str().as_bytes().to_vec(), i.date))
                .collect();
            assert_eq!(dates, want);
            assert_eq!(
                store.lookup(&items[3].key, "f9").unwrap(),
                super::super::Lookup::Elsewhere { date: 1_030 }
            );
            assert_eq!(
                store.lookup(&items[7].key, "f2").unwrap(),
                super::super::Lookup::Known {
                    date: Some(items[7].date),
                    print: StoredPrint::NotOurs
                }
            );
            // Sources: the record's two, then one gained after the migration.
            let sighting = Sighting {
                key: items[7].key.clone(),
                date: items[7].date,
                source: Source {
                    feed_url: "f3".into(),
                    feed_name: "الثالثة".into(),
                    link: None,
                },
            };
            let r = store.ingest_document(&[], &[sighting], None).unwrap().0;
            assert_eq!((r.duplicate, r.merged), (1, 1));
            let names: Vec<String> = store
                .get(&items[7].key)
                .unwrap()
                .unwrap()
                .sources
                .into_iter()
                .map(|s| s.feed_name)
                .collect();
            assert_eq!(names, ["f1", "الثانية", "الثالثة"]);
            let newest = store.recent(100, usize::MAX, |_| true).unwrap();
            assert_eq!(newest.len(), 40);
            assert_eq!(store.item_count(), 40);
        }
    }

    /// The keys in `fulltext_pending`, in order.
    fn pending_index(store: &SledStore) -> Vec<Vec<u8>> {
        store
            .pending_tree()
            .unwrap()
            .iter()
            .keys()
            .map(|k| k.unwrap().to_vec())
            .collect()
    }

    #[test]
    fn a_version_4_store_gains_the_pending_index_on_open() {
        // No index at all (a version-4 store), and a wrong one: a migration
        // cut short, or keys left by a build that did not keep the index
        // (a finished claim's key in it, pending ones missing).
        for stale in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let feed = "https://aljazeera.example/feed";
            let items: Vec<Item> = (0..8)
                .map(|i| item(&format!("https://aljazeera.example/مقال/{i}"), feed, 100 + i))
                .collect();
            {
                let store = SledStore::open(dir.path()).unwrap();
                let with_link = |i: &Item| i.link.is_some();
                let claim = crate::store::FullTextClaim {
                    feed_url: feed,
                    hold_until: 130,
                    wanted: &with_link,
                    hold: true,
                };
                let (_, claimed) = store.ingest_claiming(&items, Some(&claim)).unwrap();
                assert_eq!(claimed.len(), 8);
                let outcomes = vec![
                    (items[0].key.clone(), Ok("<p dir=\"rtl\">وصل</p>".to_owned())),
                    (items[1].key.clone(), Err("HTTP 404".to_owned())),
                ];
                assert!(store
                    .finish_full_text_batch(&outcomes, 140)
                    .iter()
                    .all(|r| r.is_ok()));
                store.release_expired_full_text(130).unwrap();
                downgrade_to_v5(&store);
                let pending = store.pending_tree().unwrap();
                pending.clear().unwrap();
                if stale {
                    pending.insert(items[0].key.as_str().as_bytes(), &[]).unwrap();
                    pending.insert(items[4].key.as_str().as_bytes(), &[]).unwrap();
                }
                store.meta.insert(SCHEMA_KEY, &4u32.to_be_bytes()).unwrap();
                store.flush().unwrap();
            }
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(
                store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
                Some(&SCHEMA_VERSION.to_be_bytes()[..])
            );
            let mut want: Vec<Vec<u8>> = items[2..]
                .iter()
                .map(|i| i.key.as_str().as_bytes().to_vec())
                .collect();
            want.sort();
            assert_eq!(pending_index(&store), want);
            let read: Vec<Vec<u8>> = store
                .pending_full_text()
                .unwrap()
                .into_iter()
                .map(|(k, _)| k.as_str().as_bytes().to_vec())
                .collect();
            assert_eq!(read, want);
            // The index follows the claims after the migration.
            store
                .finish_full_text(&items[2].key, Err("HTTP 500".into()), 150)
                .unwrap();
            assert_eq!(pending_index(&store).len(), 5);
            drop(store);
            // Opened again: version 7 already, nothing rebuilt or lost.
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.pending_full_text().unwrap().len(), 5);
            assert_eq!(store.item_count(), 8);
            let article = store.get(&items[0].key).unwrap().unwrap();
            assert_eq!(article.content.as_deref(), Some("<p dir=\"rtl\">وصل</p>"));
        }
    }

    #[test]
    fn a_pending_key_without_a_finished_record_is_passed_over() {
        // What a crash between `finish_full_text`'s record write and its
        // index removal leaves (the record first): the key is read, its
        // record says it is done, and it is not handed out again.
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let feed = "https://asharq.example/feed";
        let (a, b) = (
            item("https://asharq.example/خبر/1", feed, 10),
            item("https://asharq.example/خبر/2", feed, 11),
        );
        for it in [&a, &b] {
            assert!(store.claim_full_text(&it.key, feed, 40).unwrap());
        }
        assert!(!store
            .claim_full_text(&a.key, "https://other.example/feed", 40)
            .unwrap());
        store.ingest(&[a.clone(), b.clone()]).unwrap();
        store
            .finish_full_text(&a.key, Err("HTTP 404".into()), 20)
            .unwrap();
        store
            .pending_tree()
            .unwrap()
            .insert(a.key.as_str().as_bytes(), &[])
            .unwrap();
        // And one whose item and record were pruned in between.
        store
            .pending_tree()
            .unwrap()
            .insert(&b"https://asharq.example/gone"[..], &[])
            .unwrap();
        let read: Vec<ItemKey> = store
            .pending_full_text()
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(read, std::slice::from_ref(&b.key));
    }

    #[test]
    fn a_sighting_writes_keys_and_sources_only_and_prune_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let a = item("https://ar.example/خبر/1", "f1", 10);
        store.ingest(std::slice::from_ref(&a)).unwrap();
        let record = store.records.iter().next().unwrap().unwrap();
        let sighting = |feed: &str| Sighting {
            key: a.key.clone(),
            date: 10,
            source: Source {
                feed_url: feed.into(),
                feed_name: format!("مصدر {feed}"),
                link: Some("https://ar.example/خبر/1?ref=rss".into()),
            },
        };
        store
            .ingest_document(&[], &[sighting("f2"), sighting("f3")], None)
            .unwrap();
        // The record is byte for byte the one first written.
        assert_eq!(store.records.iter().next().unwrap().unwrap(), record);
        assert_eq!(store.sources.len(), 2);
        let entry = store.keys.get(a.key.as_str()).unwrap().unwrap();
        let KeyEntry::Stored { seq, date, feeds, .. } = KeyEntry::read(&entry).unwrap() else {
            panic!("stored entry expected")
        };
        assert_eq!((seq, date, feeds.len()), (0, Some(10), 24));
        let policy = Retention {
            max_age: std::time::Duration::from_secs(1),
            max_items: 100,
            seen_max_age: std::time::Duration::from_secs(365 * 86_400),
        };
        assert_eq!(store.prune(1_000_000, &policy, 100).unwrap().items, 1);
        assert_eq!(store.sources.len(), 0, "pruned with its item");
        assert_eq!(store.records.len(), 0);
    }

    #[test]
    fn a_version_2_store_is_packed_on_open() {
        // All plain (a version-2 store), and half plain (a migration cut short).
        for plain in [40, 20] {
            let dir = tempfile::tempdir().unwrap();
            let items: Vec<Item> = v1_items()
                .into_iter()
                .map(|mut it| {
                    it.content = Some(it.content.unwrap().repeat(20));
                    it
                })
                .collect();
            {
                let store = SledStore::open(dir.path()).unwrap();
                assert_eq!(store.ingest(&items).unwrap().new, 40);
                let records = make_version_2(&store, plain);
                let plain_now = records
                    .iter()
                    .filter(|e| !is_packed(&e.as_ref().unwrap().1))
                    .count();
                assert_eq!(plain_now, plain);
            }
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(
                store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
                Some(&SCHEMA_VERSION.to_be_bytes()[..])
            );
            for value in store.records.iter().values() {
                let value = value.unwrap();
                assert!(is_packed(split_record(&value).unwrap().1));
            }
            assert_eq!(record_count(&store), 40);
            assert_eq!(store.item_count(), 40);
            let newest = store.recent(100, usize::MAX, |_| true).unwrap();
            let mut want = items.clone();
            want.reverse();
            assert_eq!(newest, want);
            assert!(store.knows(&items[7].key, "f2"));
            let again = store.ingest(&items).unwrap();
            assert_eq!((again.new, again.duplicate, again.merged), (0, 40, 0));
            let r = store
                .ingest(&[item("https://news.example/خبر/3", "f3", 1_030)])
                .unwrap();
            assert_eq!(r.merged, 1);
            assert_eq!(store.get(&items[3].key).unwrap().unwrap().sources.len(), 2);
        }
    }

    /// Queues documents, then runs the writer on this thread, so that they
    /// are certain to be committed as one group.
    fn commit_as_one_group(store: &SledStore, docs: Vec<Vec<Item>>) -> Vec<Result<IngestReport, StoreError>> {
        let (queue, waiting) = std::sync::mpsc::sync_channel(docs.len());
        let answers: Vec<_> = docs
            .iter()
            .map(|items| {
                let (reply, answer) = std::sync::mpsc::sync_channel(1);
                let mut hashes = FeedHashes::default();
                let entries = items.iter().map(|i| Entry::of(i, &mut hashes)).collect();
                queue
                    .send(Doc {
                        entries,
                        claim: None,
                        reply,
                    })
                    .unwrap();
                answer
            })
            .collect();
        drop(queue);
        let trees = writer_trees(store, None);
        write_groups(trees, waiting);
        answers
            .into_iter()
            .map(|a| a.recv().unwrap().map(|(report, _, _)| report))
            .collect()
    }

    #[test]
    fn a_group_reports_per_document_and_stores_a_shared_story_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let story = "https://wire.example/خبر-عاجل";
        let reports = commit_as_one_group(
            &store,
            vec![
                vec![item(story, "f1", 10), item("https://a.example/1", "f1", 11)],
                vec![item(story, "f2", 10)],
                vec![item("https://b.example/1", "f3", 12)],
            ],
        );
        let reports: Vec<IngestReport> = reports.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            reports,
            vec![
                IngestReport {
                    new: 2,
                    duplicate: 0,
                    merged: 0,
                    revised: 0,
                },
                IngestReport {
                    new: 0,
                    duplicate: 1,
                    merged: 1,
                    revised: 0,
                },
                IngestReport {
                    new: 1,
                    duplicate: 0,
                    merged: 0,
                    revised: 0,
                },
            ]
        );
        let stored = store
            .get(&ItemKey::from_link(&url::Url::parse(story).unwrap()))
            .unwrap()
            .unwrap();
        let feeds: Vec<&str> = stored.sources.iter().map(|s| s.feed_url.as_str()).collect();
        assert_eq!(feeds, ["f1", "f2"]);
        assert_eq!(pair_count(&store), 3);
    }

    #[test]
    fn a_bad_document_fails_alone_and_the_rest_of_its_group_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        // A key whose `keys` entry is damaged: merging a feed into it fails
        // (the record is not read to merge a source any more).
        let bad = item("https://a.example/corrupt", "f1", 5);
        store
            .keys
            .insert(bad.key.as_str().as_bytes(), &[7u8, 0, 0, 1][..])
            .unwrap();
        let reports = commit_as_one_group(
            &store,
            vec![
                vec![item("https://a.example/ok-1", "f1", 6)],
                vec![
                    item("https://a.example/new-in-bad", "f2", 7),
                    item("https://a.example/corrupt", "f2", 5),
                ],
                vec![item("https://a.example/ok-2", "f3", 8)],
            ],
        );
        assert_eq!(reports[0].as_ref().unwrap().new, 1);
        assert!(
            matches!(reports[1], Err(StoreError::Corrupt(_))),
            "{:?}",
            reports[1]
        );
        assert_eq!(reports[2].as_ref().unwrap().new, 1);
        // All of the bad document or none: its good item is not there either.
        for (link, there) in [
            ("https://a.example/ok-1", true),
            ("https://a.example/new-in-bad", false),
            ("https://a.example/ok-2", true),
        ] {
            let key = ItemKey::from_link(&url::Url::parse(link).unwrap());
            assert_eq!(store.get(&key).unwrap().is_some(), there, "{link}");
        }
    }

    #[test]
    fn many_threads_ingesting_at_once_store_every_story_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let reports: Vec<IngestReport> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..6)
                    .map(|t| {
                        let store = store.clone();
                        s.spawn(move || {
                            (0..40i64)
                                .map(|d| {
                                    // Every document shares a story with the other threads.
                                    let feed = format!("https://f{t}.example/feed");
                                    let items = vec![
                                        item(&format!("https://wire.example/{d}"), &feed, d),
                                        item(&format!("https://f{t}.example/{d}"), &feed, d),
                                    ];
                                    store.ingest(&items).unwrap()
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
            });
            let new: usize = reports.iter().map(|r| r.new).sum();
            let merged: usize = reports.iter().map(|r| r.merged).sum();
            assert_eq!(new, 40 + 6 * 40);
            assert_eq!(merged, 5 * 40);
            assert_eq!(store.item_count(), 280);
            store.flush().unwrap();
        }
        // Dropping the last handle stopped the writer and let go of the
        // store: it opens again at once, with the same count.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.item_count(), 280);
        let wire = store
            .get(&ItemKey::from_link(
                &url::Url::parse("https://wire.example/3").unwrap(),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(wire.sources.len(), 6);
    }

    /// sled 0.34 writes a leaf over a quarter of its 512 KiB log segment
    /// as a blob file of its own, read and written whole, and splits a leaf
    /// only past 16 entries, whatever their size: records of a few KB each
    /// (long items, full-text articles) must still leave `blobs/` empty.
    #[test]
    fn records_of_a_few_kilobytes_never_become_blob_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let words = [
            "القاهرة",
            "وزير",
            "الخارجية",
            "اجتماع",
            "عاجل",
            "الحكومة",
            "بيان",
            "مجلس",
        ];
        // xorshift: text zstd cannot pack to nothing.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let items: Vec<Item> = (0..600)
            .map(|i| {
                let mut it = item(&format!("https://aljazeera.example/مقال/{i}"), "f1", 1_000 + i);
                let text: Vec<String> = (0..600)
                    .map(|_| {
                        let n = next();
                        format!("{} {}", words[(n % 8) as usize], (n >> 8) % 100_000)
                    })
                    .collect();
                it.content = Some(format!("<p dir=\"rtl\">{}</p>", text.join(" ")));
                it
            })
            .collect();
        for doc in items.chunks(40) {
            assert_eq!(store.ingest(doc).unwrap().new, 40);
        }
        store.flush().unwrap();
        let smallest = store.records.iter().values().map(|v| v.unwrap().len()).min();
        assert!(smallest > Some(2_000), "records of {smallest:?} bytes");
        let blobs = std::fs::read_dir(dir.path().join("blobs")).map_or(0, |d| d.count());
        assert_eq!(blobs, 0, "sled blob files");
        assert_eq!(store.recent(600, usize::MAX, |_| true).unwrap(), {
            let mut newest = items.clone();
            newest.reverse();
            newest
        });
    }

    #[test]
    fn the_item_count_is_kept_in_meta_through_ingest_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let policy = Retention {
            max_age: std::time::Duration::from_secs(100),
            max_items: 1000,
            seen_max_age: std::time::Duration::from_secs(100_000),
        };
        {
            let store = SledStore::open(dir.path()).unwrap();
            let items: Vec<Item> = (0..5)
                .map(|i| item(&format!("https://a.example/خبر/{i}"), "f1", i * 100))
                .collect();
            assert_eq!(store.ingest(&items).unwrap().new, 5);
            // Dated 0 and 100, older than 250 - 100: pruned.
            assert_eq!(store.prune(250, &policy, 10).unwrap().items, 2);
            assert_eq!(store.item_count(), 3);
            assert_eq!(stored_count(store.meta.get(COUNT_KEY).unwrap().as_deref()), 3);
            store.flush().unwrap();
        }
        {
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.item_count(), 3);
            // A store written before the count was kept: counted at open.
            store.meta.remove(COUNT_KEY).unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.item_count(), 3);
        assert_eq!(stored_count(store.meta.get(COUNT_KEY).unwrap().as_deref()), 3);
    }

    /// Writes `items` and `seen` in the version-1 layout with sled alone:
    /// whole records under their canonical link, a date index, seen records.
    fn write_v1_store(path: &Path, items: &[Item], seen: &[(&str, i64)], with_count: bool) {
        let db = SledStore::open_db_with_grace(path).unwrap();
        let meta = db.open_tree("meta").unwrap();
        meta.insert(SCHEMA_KEY, &1u32.to_be_bytes()).unwrap();
        if with_count {
            meta.insert(COUNT_KEY, &(items.len() as u64).to_be_bytes())
                .unwrap();
        }
        let (v1_items, by_date) = (db.open_tree("items").unwrap(), db.open_tree("by_date").unwrap());
        for it in items {
            v1_items.insert(it.key.as_str().as_bytes(), encode(it)).unwrap();
            by_date.insert(date_key(it.date, &it.key), &[]).unwrap();
        }
        let (v1_seen, seen_by_date) = (
            db.open_tree("seen").unwrap(),
            db.open_tree("seen_by_date").unwrap(),
        );
        for (link, first_seen) in seen {
            let key = ItemKey::from_link(&url::Url::parse(link).unwrap());
            let k = key.as_str().as_bytes();
            v1_seen.insert(k, &first_seen.to_be_bytes()).unwrap();
            seen_by_date.insert(seen_key(*first_seen, k), &[]).unwrap();
        }
        db.open_tree("feeds")
            .unwrap()
            .insert(
                "f1",
                serde_json::to_vec(&FeedState {
                    etag: Some("\"v1\"".into()),
                    ..Default::default()
                })
                .unwrap(),
            )
            .unwrap();
        db.flush().unwrap();
    }

    fn v1_items() -> Vec<Item> {
        let mut items: Vec<Item> = (0..40)
            .map(|i| {
                let mut it = item(&format!("https://news.example/خبر/{i}"), "f1", 1_000 + i * 10);
                it.content = Some(format!("<p dir=\"rtl\">نص الخبر رقم {i}</p>"));
                it
            })
            .collect();
        items[7].sources.push(Source {
            feed_url: "f2".into(),
            feed_name: "الثانية".into(),
            link: None,
        });
        items
    }

    #[test]
    fn a_version_1_store_is_migrated_on_open() {
        for with_count in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let items = v1_items();
            let pruned = "https://news.example/قديم";
            write_v1_store(dir.path(), &items, &[(pruned, 500)], with_count);

            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.item_count(), 40);
            assert_eq!(store.seen_count(), 1);
            assert_eq!(
                store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
                Some(&SCHEMA_VERSION.to_be_bytes()[..])
            );
            let names: Vec<_> = store.db.tree_names();
            for old in V1_TREES {
                assert!(!names.iter().any(|n| n == old.as_bytes()), "{old} still there");
            }
            // Everything is there, newest first, byte for byte.
            let newest = store.recent(100, usize::MAX, |_| true).unwrap();
            let mut want = items.clone();
            want.reverse();
            assert_eq!(newest, want);
            for it in &items {
                assert_eq!(store.get(&it.key).unwrap().as_ref(), Some(it));
                assert!(store.knows(&it.key, "f1"));
            }
            assert!(store.knows(&items[7].key, "f2"));
            assert!(!store.knows(&items[6].key, "f2"));
            assert_eq!(
                store.feed_state("f1").unwrap().unwrap().etag.as_deref(),
                Some("\"v1\"")
            );
            // Nothing new twice: neither the stored items nor the pruned one.
            let again = store.ingest(&items).unwrap();
            assert_eq!((again.new, again.duplicate, again.merged), (0, 40, 0));
            let old = item(pruned, "f3", 500);
            assert!(store.knows(&old.key, "f3"));
            assert_eq!(store.ingest(&[old]).unwrap().new, 0);
            // A known story from a new feed is merged; a new one is new.
            let r = store
                .ingest(&[
                    item("https://news.example/خبر/3", "f3", 1_030),
                    item("https://news.example/جديد", "f1", 2_000),
                ])
                .unwrap();
            assert_eq!((r.new, r.merged), (1, 1));
            assert_eq!(store.item_count(), 41);
            assert!(store.knows(&items[3].key, "f3"));
            let mut seen = Vec::new();
            store
                .for_each_seen(|k, t| {
                    seen.push((k, t));
                    true
                })
                .unwrap();
            assert_eq!(
                seen,
                vec![(ItemKey::from_link(&url::Url::parse(pruned).unwrap()), 500)]
            );
            store.flush().unwrap();
            drop(store);
            // Opened again: already the current version, nothing migrated twice.
            let store = SledStore::open(dir.path()).unwrap();
            assert_eq!(store.item_count(), 41);
            assert_eq!(
                store.recent(1, 10, |_| true).unwrap()[0].link.as_deref(),
                Some("https://news.example/جديد")
            );
        }
    }

    #[test]
    fn a_migration_cut_short_starts_again_from_the_version_1_trees() {
        let dir = tempfile::tempdir().unwrap();
        let items = v1_items();
        write_v1_store(dir.path(), &items, &[], true);
        {
            // What a crash mid-migration leaves: half-written new trees and
            // still schema version 1.
            let db = SledStore::open_db_with_grace(dir.path()).unwrap();
            db.open_tree("keys")
                .unwrap()
                .insert(b"//stale.example/x", stored_entry(9, None, None, []))
                .unwrap();
            db.open_tree("records")
                .unwrap()
                .insert(9u64.to_be_bytes(), &b"partial"[..])
                .unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.item_count(), 40);
        assert_eq!(store.keys.len(), 40);
        assert_eq!(record_count(&store), 40);
        assert_eq!(pair_count(&store), 40);
        let mut n = 0;
        store
            .for_each_item(|it| {
                assert_eq!(it, items[n]);
                n += 1;
                true
            })
            .unwrap();
        assert_eq!(n, 40);
    }

    /// Items for the version-5 tests: 37 Arabic stories (two date chunks
    /// once migrated, the last one partial), dates shared in threes so that ties
    /// are sorted again (version 5 by key, version 7 by number), item 7
    /// with two sources in its record.
    fn v5_items() -> Vec<Item> {
        let mut items: Vec<Item> = (0..37)
            .map(|i| {
                let mut it = item(
                    &format!("https://aljazeera.example/خبر/{}", 36 - i),
                    "f1",
                    2_000 + (i / 3) * 60,
                );
                it.title = format!("عاجل: خبر رقم {i} من القاهرة");
                it.content = Some(
                    format!("<p dir=\"rtl\">نص الخبر رقم {i}، فقرة بعد فقرة.</p>").repeat(i as usize % 5 + 1),
                );
                it
            })
            .collect();
        items[7].sources.push(Source {
            feed_url: "f2".into(),
            feed_name: "الثانية".into(),
            link: None,
        });
        items
    }

    /// Writes a version-5 store as that schema laid it out, tree by tree
    /// (not through this build's writer): `items` numbered in order, the
    /// date index (date ‖ key), item 3's source gained later in `sources`
    /// and its `keys` entry, one pruned item's seen entry.
    fn write_v5_store(path: &Path, items: &[Item], pruned: (&ItemKey, i64)) {
        let db = SledStore::open_db_with_grace(path).unwrap();
        let tree = |n: &str| db.open_tree(n).unwrap();
        let (meta, keys, records, dates, sources) = (
            tree("meta"),
            tree("keys"),
            tree("records"),
            tree("dates"),
            tree("sources"),
        );
        for (seq, it) in items.iter().enumerate() {
            let seq = seq as u64;
            let mut feeds: Vec<[u8; 8]> = it.sources.iter().map(|s| feed_hash(&s.feed_url)).collect();
            if seq == 3 {
                let gained = Source {
                    feed_url: "f3".into(),
                    feed_name: "الثالثة".into(),
                    link: Some("https://aljazeera.example/خبر?ref=f3".into()),
                };
                sources
                    .insert(source_key(seq, feeds.len()), encode_source(&gained))
                    .unwrap();
                feeds.push(feed_hash("f3"));
            }
            keys.insert(it.key.as_str(), stored_entry(seq, Some(it.date), None, feeds))
                .unwrap();
            records.insert(seq.to_be_bytes(), encode_packed(it)).unwrap();
            dates
                .insert(date_key(it.date, &it.key), &seq.to_be_bytes())
                .unwrap();
        }
        keys.insert(pruned.0.as_str(), &seen_entry(pruned.1)).unwrap();
        tree("seen_by_date")
            .insert(seen_key(pruned.1, pruned.0.as_str().as_bytes()), &[])
            .unwrap();
        let n = items.len() as u64;
        meta.insert(SEQ_KEY, &n.to_be_bytes()).unwrap();
        meta.insert(COUNT_KEY, &n.to_be_bytes()).unwrap();
        meta.insert(SCHEMA_KEY, &5u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }

    /// Every item of `items` (written by [`write_v5_store`]) reads back
    /// from a migrated store, by key, oldest first and newest first.
    fn assert_v5_items_read_back(store: &SledStore, items: &[Item]) {
        let mut want = items.to_vec();
        want[3].sources.push(Source {
            feed_url: "f3".into(),
            feed_name: "الثالثة".into(),
            link: Some("https://aljazeera.example/خبر?ref=f3".into()),
        });
        for it in &want {
            assert_eq!(store.get(&it.key).unwrap().as_ref(), Some(it));
        }
        assert_eq!(store.item_count(), items.len());
        assert_eq!(
            (record_count(store), pair_count(store)),
            (items.len(), items.len())
        );
        // Items are ingested oldest first and ties keep that order.
        let mut all = Vec::new();
        store
            .for_each_item(|it| {
                all.push(it);
                true
            })
            .unwrap();
        assert_eq!(all, want);
        let mut newest = store.recent(100, usize::MAX, |_| true).unwrap();
        newest.reverse();
        assert_eq!(newest, want);
    }

    #[test]
    fn a_version_5_store_is_rewritten_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let items = v5_items();
        let gone = ItemKey::from_link(&url::Url::parse("https://aljazeera.example/قديم").unwrap());
        write_v5_store(dir.path(), &items, (&gone, 500));
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
            Some(&SCHEMA_VERSION.to_be_bytes()[..])
        );
        let names: Vec<Vec<u8>> = store.db.tree_names().into_iter().map(|n| n.to_vec()).collect();
        for old in V5_TREES {
            assert!(!names.contains(&old.as_bytes().to_vec()), "{old} dropped");
        }
        assert_v5_items_read_back(&store, &items);
        assert!(store.knows(&gone, "f9"), "a pruned item stays known");
        assert!(store.knows(&items[7].key, "f2"));
        assert_eq!(
            store.lookup(&items[3].key, "f9").unwrap(),
            super::super::Lookup::Elsewhere { date: items[3].date }
        );
        // A new item goes at the right edge of the records; an older one
        // joins its date's chunk.
        let late = item("https://aljazeera.example/جديد", "f1", 9_000);
        let early = item("https://aljazeera.example/مبكر", "f1", 2_000);
        let r = store.ingest(&[late.clone(), early.clone()]).unwrap();
        assert_eq!(r.new, 2);
        assert_eq!(
            store.recent(1, 10, |_| true).unwrap(),
            std::slice::from_ref(&late)
        );
        let mut first = Vec::new();
        store
            .for_each_item(|it| {
                first.push(it.key);
                first.len() < 4
            })
            .unwrap();
        assert_eq!(
            first,
            [
                items[0].key.clone(),
                items[1].key.clone(),
                items[2].key.clone(),
                early.key.clone()
            ]
        );
        drop(store);
        // Opened again: version 7 already, nothing rebuilt or lost.
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.item_count(), 39);
        assert_eq!(store.get(&late.key).unwrap(), Some(late));
        // Prune takes pairs out of their chunks and removes the records;
        // date chunks left empty go.
        let policy = Retention {
            max_age: std::time::Duration::from_secs(365 * 86_400),
            max_items: 5,
            seen_max_age: std::time::Duration::from_secs(365 * 86_400),
        };
        while store.prune(10_000, &policy, 7).unwrap().more {}
        assert_eq!(store.item_count(), 5);
        assert_eq!((record_count(&store), pair_count(&store)), (5, 5));
        assert!(store.dates.len() <= 2, "{} date chunks", store.dates.len());
        assert!(store.knows(&items[0].key, "f9"));
        assert_eq!(
            store.ingest(&items[..3]).unwrap().new,
            0,
            "pruned items are not new"
        );
        let kept: Vec<i64> = store
            .recent(10, 100, |_| true)
            .unwrap()
            .iter()
            .map(|i| i.date)
            .collect();
        assert_eq!(kept.len(), 5);
        assert_eq!(kept[0], 9_000);
    }

    #[test]
    fn a_migration_from_version_5_cut_short_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let items = v5_items();
        let gone = ItemKey::from_link(&url::Url::parse("https://aljazeera.example/قديم").unwrap());
        write_v5_store(dir.path(), &items, (&gone, 500));
        {
            // What a crash mid-migration leaves: part of the new trees
            // (two records, one of them torn, and a date chunk) and still
            // version 5.
            let db = SledStore::open_db_with_grace(dir.path()).unwrap();
            let records = db.open_tree(RECORD_TREE).unwrap();
            records.insert(0u64.to_be_bytes(), &b"torn"[..]).unwrap();
            records
                .insert(
                    77u64.to_be_bytes(),
                    keyed_record(b"https://aljazeera.example/x", b"x"),
                )
                .unwrap();
            db.open_tree(DATE_TREE)
                .unwrap()
                .insert(date_pair(1, 99), date_pair(1, 99).to_vec())
                .unwrap();
            db.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
            Some(&SCHEMA_VERSION.to_be_bytes()[..])
        );
        assert_eq!(store.records.len(), items.len());
        assert_v5_items_read_back(&store, &items);
    }

    #[test]
    fn unknown_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = SledStore::open_db_with_grace(dir.path()).unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert(SCHEMA_KEY, &99u32.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(dir.path()).err().unwrap();
        assert!(
            matches!(err, StoreError::UnknownSchema { found: 99, .. }),
            "{err}"
        );
    }

    /// The trees the writer thread works on, for a group run on the test's
    /// own thread; `stop_after` stops it there, as a crash would.
    fn writer_trees(store: &SledStore, stop_after: Option<Step>) -> WriterTrees {
        WriterTrees {
            keys: store.keys.clone(),
            records: store.records.clone(),
            dates: store.dates.clone(),
            sources: store.sources.clone(),
            meta: store.meta.clone(),
            fulltext: store.db.open_tree("fulltext").unwrap(),
            held: store.db.open_tree("fulltext_held").unwrap(),
            held_by_time: store.db.open_tree(HELD_BY_TIME_TREE).unwrap(),
            pending: store.db.open_tree(PENDING_TREE).unwrap(),
            journal: store.db.open_tree(JOURNAL_TREE).unwrap(),
            writes: store.writes.clone(),
            dirty: Arc::default(),
            stop_after,
        }
    }

    /// A document as `ingest_document` hands it to the writer; every item
    /// claimed with a hold until `hold_until`, if given.
    fn doc_of(items: &[Item], feed: &str, hold_until: Option<i64>) -> Doc {
        let (reply, _) = std::sync::mpsc::sync_channel(1);
        let mut hashes = FeedHashes::default();
        let entries = items
            .iter()
            .map(|i| Entry {
                claim: hold_until.is_some(),
                ..Entry::of(i, &mut hashes)
            })
            .collect();
        Doc {
            entries,
            claim: hold_until.map(|until| DocClaim {
                record: pending_record(feed, until, true),
                hold_until: Some(until),
            }),
            reply,
        }
    }

    /// `n` items with long Arabic links (a journal of several parts).
    fn many_arabic_items(n: usize, feed: &str) -> Vec<Item> {
        (0..n)
            .map(|i| {
                let link = format!("https://big.example/{i}/{}", "خبر-عاجل-من-القاهرة-".repeat(4));
                let mut it = item(&link, feed, 2_000 + i as i64);
                it.title = format!("خبر عاجل رقم {i}");
                it
            })
            .collect()
    }

    /// A document at the parser's cap (1,000 items) whose links are
    /// Arabic text that packs badly: every journal part stays small enough
    /// that a journal leaf (at most 17 entries: sled splits past 16) stays
    /// under sled's blob size, so that recovery's prefix argument holds for
    /// it after a power loss too.
    #[test]
    fn journal_parts_keep_a_leaf_inline_whatever_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let feed = "https://www.youm7.com/rss";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut letter = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            char::from_u32(0x0621 + ((state >> 33) % 26) as u32).unwrap()
        };
        let items: Vec<Item> = (0..1000)
            .map(|i| {
                let words: String = (0..160).map(|_| letter()).collect();
                item(&format!("https://big.example/{i}/{words}"), feed, 3_000 + i)
            })
            .collect();
        let trees = writer_trees(&store, Some(Step::Journal));
        assert!(commit(&trees, &[doc_of(&items, feed, Some(9_000))]).is_err());
        let parts: Vec<usize> = trees.journal.iter().values().map(|v| v.unwrap().len()).collect();
        let largest = parts.iter().copied().max().unwrap();
        assert!(parts.len() > 17, "{} parts", parts.len());
        assert!(
            17 * (largest + 64) < 131_052,
            "largest stored part {largest} bytes"
        );
    }

    #[test]
    fn a_journal_a_crash_left_is_replayed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let youm7 = "https://www.youm7.com/rss";
        let other = "https://b.example/feed";
        // Decoded from windows-1256.
        let arabic = arabic_records();
        let wire = item("https://wire.example/خبر-مشترك", "https://a.example/feed", 500);
        let mut wire_here = wire.clone();
        wire_here.sources[0].feed_url = youm7.into();
        let mut first_again = arabic[0].clone();
        first_again.sources[0].feed_url = other.into();
        let mut doc1 = arabic.clone();
        doc1.push(wire_here.clone());
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.ingest(std::slice::from_ref(&wire)).unwrap();
            let group = vec![
                doc_of(&doc1, youm7, Some(9_000)),
                doc_of(std::slice::from_ref(&first_again), other, None),
            ];
            let trees = writer_trees(&store, Some(Step::Journal));
            assert!(commit(&trees, &group).is_err());
            // The crash's state: the records and the journal, nothing of
            // it applied.
            assert_eq!(trees.journal.len(), 1);
            assert_eq!(record_count(&store), 1 + arabic.len());
            assert!(!store.contains(&arabic[1].key).unwrap());
            assert_eq!(store.get(&wire.key).unwrap().unwrap().sources.len(), 1);
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert!(store.db.open_tree(JOURNAL_TREE).unwrap().is_empty());
        let n = 1 + arabic.len();
        assert_eq!(store.item_count(), n);
        assert_eq!(
            stored_count(store.meta.get(COUNT_KEY).unwrap().as_deref()),
            n as u64
        );
        assert_eq!(
            stored_count(store.meta.get(SEQ_KEY).unwrap().as_deref()),
            n as u64
        );
        assert_eq!((record_count(&store), pair_count(&store)), (n, n));
        for it in &arabic {
            let got = store.get(&it.key).unwrap().unwrap();
            assert_eq!((&got.title, &got.content), (&it.title, &it.content));
            let claim = store.full_text(&it.key).unwrap().unwrap();
            assert_eq!(claim.state, FullTextState::Pending);
            assert!(claim.held);
        }
        // Seen twice in the group: stored once, with both feeds.
        let first: Vec<String> = store
            .get(&arabic[0].key)
            .unwrap()
            .unwrap()
            .sources
            .into_iter()
            .map(|s| s.feed_url)
            .collect();
        assert_eq!(first, [youm7, other]);
        // Known before the group: gained its source, no claim.
        assert_eq!(store.get(&wire.key).unwrap().unwrap().sources.len(), 2);
        assert!(store.full_text(&wire.key).unwrap().is_none());
        assert_eq!(store.full_text_held().unwrap().len(), arabic.len());
        assert_eq!(store.pending_full_text().unwrap().len(), arabic.len());
        // Every item once: nothing new the second time.
        let again = store.ingest(&doc1).unwrap();
        assert_eq!((again.new, again.merged), (0, 0));
        assert_eq!(store.item_count(), n);

        // A document whose journal takes several parts, all replayed.
        let many = many_arabic_items(600, youm7);
        {
            let trees = writer_trees(&store, Some(Step::Journal));
            assert!(commit(&trees, &[doc_of(&many, youm7, Some(9_000))]).is_err());
            assert!(trees.journal.len() >= 3, "{} parts", trees.journal.len());
            assert!(!store.contains(&many[599].key).unwrap());
        }
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert!(store.db.open_tree(JOURNAL_TREE).unwrap().is_empty());
        assert_eq!(store.item_count(), n + many.len());
        assert_eq!(
            (record_count(&store), pair_count(&store)),
            (n + many.len(), n + many.len())
        );
        for it in &many {
            assert_eq!(store.get(&it.key).unwrap().unwrap().title, it.title);
            assert!(store.full_text(&it.key).unwrap().unwrap().held);
        }
        assert_eq!(store.ingest(&many).unwrap().new, 0);
    }

    #[test]
    fn journal_parts_are_lz4_and_zstd_parts_an_older_build_left_still_replay() {
        let youm7 = "https://www.youm7.com/rss";
        // Decoded from windows-1256, and many more over several parts.
        let mut items = arabic_records();
        items.extend(many_arabic_items(600, youm7));
        for old in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            {
                let store = SledStore::open(dir.path()).unwrap();
                let trees = writer_trees(&store, Some(Step::Journal));
                assert!(commit(&trees, &[doc_of(&items, youm7, Some(9_000))]).is_err());
                assert!(trees.journal.len() >= 3, "{} parts", trees.journal.len());
                let parts: Vec<_> = trees.journal.iter().map(Result::unwrap).collect();
                for (key, stored) in parts {
                    assert_eq!(stored[1], super::super::LZ4_TAG);
                    assert!(stored.len() < unpack_part(&stored).unwrap().len());
                    if old {
                        // As schema 9's `pack_part` wrote it: zstd level 1.
                        let part = unpack_part(&stored).unwrap();
                        let mut zstd_part = vec![part[0]];
                        zstd_part.extend(zstd::bulk::compress(&part[1..], 1).unwrap());
                        assert_eq!(unpack_part(&zstd_part).unwrap(), part);
                        trees.journal.insert(key, zstd_part).unwrap();
                    }
                }
                if old {
                    store.meta.insert(SCHEMA_KEY, &9u32.to_be_bytes()).unwrap();
                }
                store.flush().unwrap();
            }
            let store = SledStore::open(dir.path()).unwrap();
            assert!(store.db.open_tree(JOURNAL_TREE).unwrap().is_empty());
            assert_eq!(store.item_count(), items.len());
            for it in &items {
                let got = store.get(&it.key).unwrap().unwrap();
                assert_eq!((&got.title, &got.content), (&it.title, &it.content));
                assert!(store.full_text(&it.key).unwrap().unwrap().held);
            }
        }
        // A damaged part is an error, not a panic.
        let mut cut = pack_part(&[PART_LAST, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]).unwrap();
        cut.truncate(cut.len() - 4);
        assert!(matches!(unpack_part(&cut), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_group_whose_journal_would_be_too_large_is_committed_in_halves() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let youm7 = "https://www.youm7.com/rss";
        let many = many_arabic_items(400, youm7);
        let docs: Vec<Vec<Item>> = many.chunks(50).map(<[Item]>::to_vec).collect();
        let group: Vec<Doc> = docs.iter().map(|d| doc_of(d, youm7, None)).collect();
        let trees = writer_trees(&store, None);
        // Together, over the bound: nothing written.
        assert!(commit(&trees, &group).unwrap().is_none());
        assert_eq!(record_count(&store), 0);
        let answers = commit_docs(&trees, &group);
        assert_eq!(answers.len(), docs.len());
        for answer in answers {
            assert_eq!(answer.unwrap().0.new, 50);
        }
        assert!(trees.journal.is_empty());
        assert_eq!((record_count(&store), pair_count(&store)), (400, 400));
        for it in &many {
            assert_eq!(store.get(&it.key).unwrap().unwrap().title, it.title);
        }
    }

    #[test]
    fn a_journal_without_its_last_part_is_dropped_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let youm7 = "https://www.youm7.com/rss";
        let many = many_arabic_items(600, youm7);
        {
            let store = SledStore::open(dir.path()).unwrap();
            let trees = writer_trees(&store, Some(Step::Journal));
            assert!(commit(&trees, &[doc_of(&many, youm7, None)]).is_err());
            // A crash before the commit point: the last part never written.
            let (last, _) = trees.journal.last().unwrap().unwrap();
            trees.journal.remove(last).unwrap();
            assert!(!trees.journal.is_empty());
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert!(store.db.open_tree(JOURNAL_TREE).unwrap().is_empty());
        assert_eq!(store.item_count(), 0);
        assert_eq!((record_count(&store), pair_count(&store)), (0, 0));
        assert!(store.keys.is_empty());
        assert_eq!(store.ingest(&many).unwrap().new, many.len());
        assert_eq!(store.item_count(), many.len());
    }

    /// Every date chunk is sorted, starts at or above its key and ends
    /// below the next chunk's key.
    fn assert_chunks_in_order(store: &SledStore) {
        let chunks: Vec<(sled::IVec, sled::IVec)> = store.dates.iter().collect::<Result<_, _>>().unwrap();
        for (n, (key, value)) in chunks.iter().enumerate() {
            let pairs: Vec<&[u8]> = chunk_pairs(value).unwrap().collect();
            assert!(!pairs.is_empty(), "chunk {n} empty");
            assert!(pairs.windows(2).all(|w| w[0] < w[1]), "chunk {n} out of order");
            assert!(key.as_ref() <= pairs[0], "chunk {n} starts below its key");
            if let Some((next, _)) = chunks.get(n + 1) {
                assert!(
                    *pairs.last().unwrap() < next.as_ref(),
                    "chunk {n} runs into chunk {}",
                    n + 1
                );
            }
        }
    }

    #[test]
    fn the_writers_chunk_keys_follow_a_replayed_journal_and_a_prune() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let youm7 = "https://www.youm7.com/rss";
        let dated = |dates: std::ops::Range<i64>, tag: &str| -> Vec<Item> {
            dates
                .map(|d| item(&format!("https://www.youm7.com/{tag}/{d}/خبر-عاجل"), youm7, d))
                .collect()
        };
        // The writer reads the chunks' keys for this group and keeps them.
        assert_eq!(store.ingest(&dated(0..100, "old")).unwrap().new, 100);
        // A group that failed after its commit point (its chunks from date
        // 1,000 written only to the journal), replayed before the next one
        // as a later group or the next open does.
        let trees = writer_trees(&store, Some(Step::Journal));
        assert!(commit(&trees, &[doc_of(&dated(1_000..1_100, "late"), youm7, None)]).is_err());
        assert!(replay_journal(&trees).unwrap() > 0);
        // The handle counts what its own ingests report, not this commit's.
        store.count.fetch_add(100, Ordering::Relaxed);
        // These pairs fall in the replayed chunks: a writer that missed
        // them would put the pairs in the last chunk below 1,000.
        assert_eq!(store.ingest(&dated(1_040..1_060, "between")).unwrap().new, 20);
        assert_chunks_in_order(&store);
        // Prune empties and deletes the chunks below 1,000; new pairs there
        // start chunks of their own.
        let policy = Retention {
            max_age: std::time::Duration::from_secs(1 << 40),
            max_items: 120,
            seen_max_age: std::time::Duration::from_secs(1 << 40),
        };
        assert_eq!(store.prune(10_000, &policy, 1_000).unwrap().items, 100);
        assert_eq!(store.ingest(&dated(10..30, "again")).unwrap().new, 20);
        assert_chunks_in_order(&store);
        assert_eq!(store.item_count(), 140);
        assert_eq!((record_count(&store), pair_count(&store)), (140, 140));
        let newest: Vec<i64> = store.date_pairs(true).map(|p| p.unwrap().0).collect();
        let mut want: Vec<i64> = (10..30).chain(1_000..1_100).chain(1_040..1_060).collect();
        want.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(newest, want);
        for it in dated(1_040..1_060, "between")
            .iter()
            .chain(&dated(10..30, "again"))
        {
            assert_eq!(store.get(&it.key).unwrap().unwrap().title, it.title);
        }
    }

    #[test]
    fn records_without_a_journal_are_swept_and_the_document_stored_whole_next_time() {
        let dir = tempfile::tempdir().unwrap();
        let youm7 = "https://www.youm7.com/rss";
        let arabic = arabic_records();
        let before = item("https://a.example/قبل", "https://a.example/feed", 100);
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.ingest(std::slice::from_ref(&before)).unwrap();
            let trees = writer_trees(&store, Some(Step::Records));
            assert!(commit(&trees, &[doc_of(&arabic, youm7, Some(9_000))]).is_err());
            assert_eq!(record_count(&store), 1 + arabic.len());
            assert!(trees.journal.is_empty());
        }
        let store = SledStore::open(dir.path()).unwrap();
        // None of the document: no record, pair, key or claim.
        assert_eq!(store.item_count(), 1);
        assert_eq!((record_count(&store), pair_count(&store)), (1, 1));
        for it in &arabic {
            assert!(!store.contains(&it.key).unwrap());
            assert!(store.full_text(&it.key).unwrap().is_none());
        }
        // The next ingest stores it whole, under the same numbers.
        let report = store.ingest(&arabic).unwrap();
        assert_eq!(report.new, arabic.len());
        assert_eq!(store.item_count(), 1 + arabic.len());
        assert_eq!(record_count(&store), 1 + arabic.len());
        assert_eq!(pair_count(&store), 1 + arabic.len());
        for it in &arabic {
            let got = store.get(&it.key).unwrap().unwrap();
            assert_eq!((&got.title, &got.content), (&it.title, &it.content));
        }
        drop(store);
        assert_eq!(
            SledStore::open(dir.path()).unwrap().item_count(),
            1 + arabic.len()
        );
    }

    #[test]
    fn pruning_beside_ingest_loses_and_resurrects_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let policy = Retention {
            max_age: std::time::Duration::from_secs(1 << 40),
            max_items: 120,
            seen_max_age: std::time::Duration::from_secs(1 << 40),
        };
        let docs: Vec<Vec<Item>> = (0..80i64)
            .map(|d| {
                let feed = format!("https://f{}.example/feed", d % 4);
                let mut items: Vec<Item> = (0..5)
                    .map(|i| item(&format!("https://p.example/{d}/{i}/خبر"), &feed, d * 10 + i))
                    .collect();
                // A story every feed brings: merged while prune may take it.
                items.push(item(
                    &format!("https://wire.example/عاجل/{}", d / 4),
                    &feed,
                    d * 10,
                ));
                items
            })
            .collect();
        let done = std::sync::atomic::AtomicBool::new(false);
        let pruned = std::thread::scope(|s| {
            let pruner = s.spawn(|| {
                let mut pruned = 0;
                while !done.load(Ordering::Relaxed) {
                    pruned += store.prune(1_000_000, &policy, 16).unwrap().items;
                }
                loop {
                    let r = store.prune(1_000_000, &policy, 16).unwrap();
                    pruned += r.items;
                    if !r.more {
                        break pruned;
                    }
                }
            });
            let ingesters: Vec<_> = docs
                .chunks(20)
                .map(|docs| {
                    let store = store.clone();
                    s.spawn(move || {
                        for doc in docs {
                            store.ingest(doc).unwrap();
                        }
                    })
                })
                .collect();
            for h in ingesters {
                h.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
            pruner.join().unwrap()
        });
        let keys: std::collections::BTreeSet<&ItemKey> = docs.iter().flatten().map(|i| &i.key).collect();
        let stored = keys.iter().filter(|k| store.get(k).unwrap().is_some()).count();
        // Nothing lost: every key is stored or remembered as pruned.
        for key in &keys {
            assert!(store.contains(key).unwrap(), "{key:?} lost");
        }
        assert_eq!(stored + pruned, keys.len());
        assert!(stored <= 120, "{stored}");
        assert_eq!(store.item_count(), stored);
        assert_eq!(record_count(&store), stored);
        assert_eq!(pair_count(&store), stored);
        let mut walked = 0;
        store
            .for_each_item(|_| {
                walked += 1;
                true
            })
            .unwrap();
        assert_eq!(walked, stored);
        // Nothing resurrected: every story again, none new.
        for doc in &docs {
            assert_eq!(store.ingest(doc).unwrap().new, 0);
        }
        assert_eq!(store.item_count(), stored);
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!((store.item_count(), record_count(&store)), (stored, stored));
    }

    #[test]
    fn a_version_7_store_becomes_version_10_and_keeps_its_items() {
        let dir = tempfile::tempdir().unwrap();
        let arabic = arabic_records();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.ingest(&arabic).unwrap();
            store.meta.insert(SCHEMA_KEY, &7u32.to_be_bytes()).unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
            Some(&10u32.to_be_bytes()[..])
        );
        assert_eq!(store.item_count(), arabic.len());
        assert_eq!(store.get(&arabic[0].key).unwrap().unwrap().title, arabic[0].title);
    }

    #[test]
    fn a_revision_a_crash_stopped_after_its_journal_is_replayed_whole_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let youm7 = "https://www.youm7.com/rss";
        // Decoded from windows-1256.
        let arabic: Vec<Item> = arabic_records()
            .into_iter()
            .enumerate()
            .map(|(n, it)| Item {
                fingerprint: Some(n as u64),
                ..it
            })
            .collect();
        let revision = |it: &Item, print: u64, title: &str| {
            let mut built = it.clone();
            built.title = title.into();
            built.first_seen = it.first_seen + 600;
            Revision {
                key: it.key.clone(),
                print,
                item: Some(built),
                feed_url: youm7.into(),
            }
        };
        let revisions = [
            revision(&arabic[0], 100, "عاجل: الحكومة تعلن استقالتها"),
            revision(&arabic[1], 101, &arabic[1].title),
        ];
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.ingest(&arabic).unwrap();
            let mut hashes = FeedHashes::default();
            let (reply, _) = std::sync::mpsc::sync_channel(1);
            let doc = Doc {
                entries: revisions
                    .iter()
                    .map(|r| Entry::revision(r, &mut hashes))
                    .collect(),
                claim: None,
                reply,
            };
            let trees = writer_trees(&store, Some(Step::Journal));
            assert!(commit(&trees, &[doc]).is_err());
            // Nothing of it applied: the record and the fingerprints are
            // the old ones until the journal is replayed.
            assert_eq!(store.get(&arabic[0].key).unwrap().unwrap().title, arabic[0].title);
            assert_eq!(
                store.lookup(&arabic[0].key, youm7).unwrap(),
                super::super::Lookup::Known {
                    date: Some(arabic[0].date),
                    print: StoredPrint::Is(0)
                }
            );
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert!(store.db.open_tree(JOURNAL_TREE).unwrap().is_empty());
        let got = store.get(&arabic[0].key).unwrap().unwrap();
        assert_eq!(got.title, "عاجل: الحكومة تعلن استقالتها");
        assert_eq!((got.first_seen, got.date), (arabic[0].first_seen, arabic[0].date));
        assert_eq!(got.updated, Some(arabic[0].first_seen + 600));
        // The one whose text did not change kept its record, and both
        // carry their new fingerprint.
        let kept = Item {
            fingerprint: None,
            ..arabic[1].clone()
        };
        assert_eq!(store.get(&arabic[1].key).unwrap().unwrap(), kept);
        for (it, print) in [(&arabic[0], 100), (&arabic[1], 101)] {
            assert_eq!(
                store.lookup(&it.key, youm7).unwrap(),
                super::super::Lookup::Known {
                    date: Some(it.date),
                    print: StoredPrint::Is(print)
                }
            );
        }
        assert_eq!(
            (store.item_count(), record_count(&store)),
            (arabic.len(), arabic.len())
        );
    }

    /// A version-8 store as that build wrote it: `keys` entries without a
    /// fingerprint (`STORED_DATED`), written with this build's helpers.
    fn write_v8_store(path: &Path, items: &[Item]) {
        let store = SledStore::open(path).unwrap();
        let unprinted: Vec<Item> = items
            .iter()
            .cloned()
            .map(|i| Item {
                fingerprint: None,
                ..i
            })
            .collect();
        store.ingest(&unprinted).unwrap();
        store.meta.insert(SCHEMA_KEY, &8u32.to_be_bytes()).unwrap();
        for entry in store.keys.iter() {
            let (_, value) = entry.unwrap();
            assert_eq!(value[0], STORED_DATED, "version 8's entry form");
        }
        store.flush().unwrap();
    }

    #[test]
    fn a_version_8_store_becomes_version_10_and_its_items_gain_fingerprints_unrevised() {
        let dir = tempfile::tempdir().unwrap();
        let url = url::Url::parse("https://www.youm7.com/rss").unwrap();
        let feed = crate::parse::FeedRef {
            url: &url,
            name: "youm7",
        };
        let body = include_bytes!("../../tests/fixtures/youm7_cp1256.xml");
        let now = chrono::Utc::now();
        let parse = |known: &dyn Fn(&ItemKey) -> crate::parse::Known| {
            crate::parse::parse_feed_skipping(feed, body, None, now, crate::parse::Limits::default(), known)
                .unwrap()
        };
        let first = parse(&|_| crate::parse::Known::New);
        write_v8_store(dir.path(), &first.items);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.meta.get(SCHEMA_KEY).unwrap().as_deref(),
            Some(&10u32.to_be_bytes()[..])
        );
        let ingest = |parsed: &crate::parse::ParsedFeed| {
            store
                .ingest_parsed(&parsed.items, &parsed.sightings, &parsed.revisions, None)
                .unwrap()
        };
        let lookup = |key: &ItemKey| match store.lookup(key, url.as_str()).unwrap() {
            super::super::Lookup::Known { date, print } => crate::parse::Known::FromThisFeed { date, print },
            other => panic!("{other:?}"),
        };
        // The same document again: every entry records its fingerprint,
        // none is a revision (nothing the publisher changed).
        let again = parse(&lookup);
        assert_eq!(again.revisions.len(), first.items.len());
        assert!(again.revisions.iter().all(|r| r.item.is_none()), "not built");
        let done = ingest(&again);
        assert_eq!((done.report.revised, done.report.new), (0, 0));
        for item in &first.items {
            assert!(matches!(
                store.lookup(&item.key, url.as_str()).unwrap(),
                super::super::Lookup::Known {
                    print: StoredPrint::Is(_),
                    ..
                }
            ));
        }
        // Then nothing at all to do for the unchanged document.
        let third = parse(&lookup);
        assert!(third.revisions.is_empty() && third.items.is_empty());
        assert_eq!(third.skipped, first.items.len());
        // A real change by the publisher (its first headline, in
        // windows-1256) is the next poll's revision.
        let title = &first.items[0].title;
        let (bytes, _, _) = encoding_rs::WINDOWS_1256.encode(title);
        let (new_bytes, _, _) = encoding_rs::WINDOWS_1256.encode("عاجل: تحديث الخبر");
        let at = memchr::memmem::find(body, &bytes).expect("the title's bytes");
        let mut changed = body[..at].to_vec();
        changed.extend_from_slice(&new_bytes);
        changed.extend_from_slice(&body[at + bytes.len()..]);
        let fourth = crate::parse::parse_feed_skipping(
            feed,
            &changed,
            None,
            now,
            crate::parse::Limits::default(),
            &lookup,
        )
        .unwrap();
        assert_eq!(fourth.revisions.len(), 1);
        let done = ingest(&fourth);
        assert_eq!(done.report.revised, 1);
        assert_eq!(
            store.get(&first.items[0].key).unwrap().unwrap().title,
            "عاجل: تحديث الخبر"
        );
    }
}
