//! The store: the only module that touches a database. This file is the
//! seam the rest of the crate uses; the backends live beside it:
//!
//! - [`sled`]: embedded, one process per store, nothing to
//!   install (the default, `[storage] backend = "sled"`).
//! - [`postgres`]: a shared PostgreSQL database, so that several `feedwire run`
//!   nodes share one store, one schedule (leases) and one dedup.
//!
//! [`Store`] is an enum over the two rather than a trait object: the set of
//! backends is closed, the methods keep the names and synchronous signatures
//! the crate already calls, and each backend can add what only it needs.
//!
//! Invariants (both backends, tested by one shared suite in `suite.rs`): an
//! item is keyed by its canonical link, inserted once, never new again (not
//! even after pruning, while its seen record lasts); a known item seen
//! through another feed gains that feed as a source; a document's items are
//! stored atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::item::{Item, ItemKey, Revision, Sighting, StoredPrint};

pub mod postgres;
pub mod sled;
#[cfg(test)]
mod suite;

pub use self::postgres::{NodeStatus, PgStore, PoolSettings};
/// What a `full_text` feed claims with one document's ingest (see
/// [`Store::ingest_claiming`]).
pub struct FullTextClaim<'a> {
    pub feed_url: &'a str,
    /// Unix seconds until which the claimed items are held back.
    pub hold_until: i64,
    /// Which items are to be fetched (those with a link).
    pub wanted: &'a dyn Fn(&Item) -> bool,
    /// False: queue the items for their pages without holding them back
    /// from outputs (sled only; PostgreSQL always holds, see
    /// [`Store::renders_alone`]). For a caller that renders once, after
    /// its wait for the articles, on a store no other process can render
    /// from meanwhile: a hold would change nothing it publishes, and cost a
    /// held entry per item and its release (BENCHMARKS.md, Run 13).
    pub hold: bool,
}

pub use self::sled::{FullTextRecord, FullTextState, FullTextStats, SiteBackoff, SledStore};

/// The PostgreSQL schema version this build reads and writes (sled has
/// its own: [`sled::SCHEMA_VERSION`]).
pub const SCHEMA_VERSION: u32 = 1;
/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (usually the running daemon) holds the store.
    #[error("store {} is in use by another process (is the feedwire daemon running? stop it, or use its HTTP endpoints)", path.display())]
    Locked { path: PathBuf },
    /// The store was written by a feedwire with another layout.
    #[error("store {} has schema version {found}, this feedwire reads version {reads}", path.display())]
    UnknownSchema { path: PathBuf, found: u32, reads: u32 },
    /// A stored record could not be decoded.
    #[error("corrupt record in store: {0}")]
    Corrupt(String),
    /// sled reported an I/O or internal error.
    #[error("store error: {0}")]
    Sled(#[from] ::sled::Error),
    /// The database cannot be reached (down, network, pool exhausted): an
    /// outage, not a bug; callers wait and retry.
    #[error("database unreachable: {0}")]
    Unavailable(String),
    /// The database answered with an error.
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// True when the database could not be reached at all.
    pub fn is_outage(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// What ingesting one document changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Items never seen before.
    pub new: usize,
    /// Items already stored; `merged` of them gained this feed as a source.
    pub duplicate: usize,
    pub merged: usize,
    /// Stored items whose text this document revised ([`Revision`]): the
    /// record was rewritten, so outputs show the new text.
    pub revised: usize,
}

impl IngestReport {
    /// True when outputs may need rendering again.
    pub fn changed(&self) -> bool {
        self.new > 0 || self.merged > 0 || self.revised > 0
    }
}

/// What [`Store::ingest_parsed`] did with one document.
#[derive(Debug, Default)]
pub struct Ingested {
    pub report: IngestReport,
    /// Keys claimed for their full text.
    pub claimed: Vec<ItemKey>,
    /// Keys whose record a [`Revision`] rewrote.
    pub revised: Vec<ItemKey>,
}

/// The stored record as a revision by its feed leaves it, or `None` when
/// the revision's published text (title, summary, content, authors,
/// categories) is the stored one (markup the sanitiser drops, a tracking
/// pixel: only the fingerprint changed). Key, link, guid, `first_seen`,
/// sources, language and the sort date stay: a revision does not move
/// the item in the feed, since readers sort by that date and a story
/// corrected an hour later is still the story of its time, not a new one
/// on top. `updated` becomes the entry's own when it is later than the
/// stored one, else the revision's time (`entry.first_seen`, the poll's
/// time). A record whose content is an extracted article (`extracted`)
/// keeps it: the feed's text goes to the summary, as
/// `finish_full_text` put it there.
pub(crate) fn revised(stored: &Item, entry: &Item, extracted: bool) -> Option<Item> {
    let (summary, content) = match extracted {
        true => (
            entry.summary.clone().or_else(|| entry.content.clone()),
            stored.content.clone(),
        ),
        false => (entry.summary.clone(), entry.content.clone()),
    };
    if stored.title == entry.title
        && stored.summary == summary
        && stored.content == content
        && stored.authors == entry.authors
        && stored.categories == entry.categories
    {
        return None;
    }
    let now = entry.first_seen;
    let updated = match entry.updated {
        Some(u) if stored.updated.is_none_or(|s| u > s) && u <= now => u,
        _ => now,
    };
    Some(Item {
        title: entry.title.clone(),
        summary,
        content,
        authors: entry.authors.clone(),
        categories: entry.categories.clone(),
        updated: Some(updated),
        ..stored.clone()
    })
}

/// Per-feed state kept across restarts.
///
/// Stored as JSON (small, per feed, and it grows fields often). A field at
/// its default (`None`, 0, false) is left out, and reads as its default
/// (`serde(default)`, which every earlier build has too): most of a
/// feed's fields are, and a warm round writes and reads every feed's
/// state: a farm feed's record went from 561 to 401 bytes, and its write
/// and read from 21 and 21 to 18 and 18 K instructions (BENCHMARKS.md,
/// Run 14 "warm poll").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedState {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// Hex SHA-256 of the last body parsed: an identical 200 is not parsed again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_hash: Option<String>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    #[serde(skip_serializing_if = "is_zero")]
    pub consecutive_failures: u32,
    /// One line, for operators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Unix seconds of the next poll.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due: Option<i64>,
    /// Where a 301/308 chain led; polled instead of the configured URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permanent_redirect: Option<String>,
    /// The feed the configured URL's web page links (`<link
    /// rel="alternate">`, see [`crate::discover`]): polled instead of the
    /// configured URL, as a permanent redirect is, until it fails (404,
    /// 410, a page), when the page is read again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discovered_feed: Option<String>,
    /// 410 Gone: not polled again until a restart or reload.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub gone: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// Items in the last document parsed, and how many were new.
    #[serde(skip_serializing_if = "is_zero")]
    pub items_seen: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub items_new: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The feed's own web site (its channel link), for OPML `htmlUrl`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site_url: Option<String>,
    /// The least interval the publisher asked for in the document, seconds
    /// (`<ttl>`, `sy:updatePeriod`); kept for the 304s that follow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher_interval: Option<u64>,
    /// Why the last document, which shows entries, yielded none
    /// (`root <rdf:RDF> in namespace ... (entry markup present)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_entries: Option<String>,
    /// What the last document needed mended before it would read
    /// (`1 stray '&'`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repaired: Option<String>,
    /// Entries of the last document dated older than `[storage] retention`:
    /// not stored at all.
    #[serde(skip_serializing_if = "is_zero")]
    pub items_too_old: usize,
    /// Entries of the last document beyond `[poll] max_items`: not read.
    #[serde(skip_serializing_if = "is_zero")]
    pub items_over_limit: usize,
    /// Entries of the last document with nothing to publish (no title,
    /// text or link): not stored.
    #[serde(skip_serializing_if = "is_zero")]
    pub items_empty: usize,
    /// The node that polled the feed last (`FEEDWIRE_NODE`, else the host
    /// name); tells operators of a fleet who did what.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polled_by: Option<String>,
    /// The links this feed has given to several distinct entries, with the
    /// entry holding each (`parse::links`): an entry met alone with one
    /// later is still keyed as one of several. Empty for nearly every feed.
    #[serde(skip_serializing_if = "crate::parse::SharedLinks::is_empty")]
    pub shared_links: crate::parse::SharedLinks,
    /// Gaps seen: documents none of whose entries was in the poll before,
    /// so that entries published in between may have been missed (see
    /// `poller::gaps`).
    #[serde(skip_serializing_if = "is_zero")]
    pub gaps: u64,
    /// Unix seconds of the last gap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_gap: Option<i64>,
    /// What the last gap showed, one line for operators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_gap_note: Option<String>,
    /// Entries the feed's next pages gave back after its gaps, in all
    /// (`poller::pages`).
    #[serde(skip_serializing_if = "is_zero")]
    pub recovered: u64,
    /// What its next pages gave back after the last gap; `None` when that
    /// gap's document named no next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_recovered: Option<usize>,
    /// Stored items whose text this feed revised (see
    /// [`IngestReport::revised`]), in all.
    #[serde(skip_serializing_if = "is_zero")]
    pub revised: u64,
    /// Unix seconds of the poll that last revised one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_revision: Option<i64>,
    /// Halvings of the configured interval in force after gaps (0: the
    /// configured interval).
    #[serde(skip_serializing_if = "is_zero")]
    pub speedup: u32,
    /// The configured interval (seconds) `speedup` halves: a feed whose
    /// configured interval changed starts from the new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speedup_base: Option<u64>,
    /// Comfortable polls in a row (fewer than half the entries new) since
    /// `speedup` last moved; enough of them take one halving back.
    #[serde(skip_serializing_if = "is_zero")]
    pub calm_polls: u32,
    /// The wait in force after the last success, seconds, before jitter:
    /// the configured interval as sped up after gaps and bounded by
    /// `[poll]` and the publisher.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// Unix seconds of the last 200 (a body, identical or not): a day
    /// later the feed is fetched once without validators
    /// (`poller::validators`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_full: Option<i64>,
    /// The server sent entries we lacked under the validators it had
    /// answered 304 to: they are not sent any more (`poller::validators`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub validators_ignored: bool,
}

/// The one field of a [`FeedState`] a render needs: decoding only it
/// passes over the others' text without allocating it.
#[derive(Deserialize)]
struct FeedSite {
    site_url: Option<String>,
}

/// For `skip_serializing_if`: a count at its default.
fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

impl FeedState {
    pub fn refresh_hint(&self) -> Option<std::time::Duration> {
        self.publisher_interval.map(std::time::Duration::from_secs)
    }
}

/// Records are wrapped in a versioned enum: postcard is not self-describing,
/// and a new variant lets a later layout read old records.
#[derive(Serialize, Deserialize)]
enum Record {
    V1(Item),
}

/// How long items stay (see `[storage]` in README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Items dated before `now - max_age` are pruned.
    pub max_age: std::time::Duration,
    /// At most this many items are kept; the oldest go first.
    pub max_items: usize,
    /// Seen records of pruned items are kept this long.
    pub seen_max_age: std::time::Duration,
}

/// What one pruning pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub items: usize,
    pub seen: usize,
    /// A batch was full: call again.
    pub more: bool,
}

/// [`Record`] by reference, for writing: postcard writes an enum as its
/// variant index and then the content, so these are the same bytes as
/// `Record::V1(item.clone())` without copying the item's HTML.
#[derive(Serialize)]
enum RecordRef<'a> {
    V1(&'a Item),
}

pub(crate) fn encode(item: &Item) -> Vec<u8> {
    with_plain(item, <[u8]>::to_vec)
}

/// A plain record buffer up to this size is kept for the thread's next
/// record; a larger one (a long article) is let go, so that a thread does
/// not hold the largest record it ever wrote. Nearly every record is
/// smaller (~1.5 % of real feeds' are over 8 KiB, [`LARGE_RECORD`]), and
/// with `parse::document_html`'s buffer (also 16 KiB) the ~20 threads of
/// a full-text round keep at most ~0.7 MB (BENCHMARKS.md, Run 16).
const KEEP_PLAIN: usize = 16 << 10;

thread_local! {
    // The plain record is written here and only read from here (packed,
    // or copied once at its size): postcard growing a fresh `Vec` for each
    // record cost ~10 allocations per record (BENCHMARKS.md, Run 16).
    static PLAIN: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `item`'s plain record ([`RecordRef`] in postcard), written
/// into this thread's buffer.
fn with_plain<R>(item: &Item, f: impl FnOnce(&[u8]) -> R) -> R {
    PLAIN.with_borrow_mut(|buf| {
        buf.clear();
        let plain = postcard::to_extend(&RecordRef::V1(item), std::mem::take(buf)).expect("items serialise");
        let result = f(&plain);
        if plain.capacity() <= KEEP_PLAIN {
            *buf = plain;
        }
        result
    })
}

/// The first bytes of a zstd frame (its magic number, little-endian). A
/// packed record starts with them; a plain one starts with its [`Record`]
/// variant index (0), so [`decode`] reads both without a tag of its own.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// First byte of a record packed as an lz4 block: never a plain record's
/// (its [`Record`] variant index, 0) nor the first of zstd's magic. The tag
/// is followed by the plain length (u32, little-endian), then the block.
/// Records below [`LARGE_RECORD`] are packed so (schema 10): lz4 packs and
/// unpacks a farm record in about half of zstd -1's instructions (−8 % of a
/// cold round's, with the journal's parts) for records ~4 % (real feeds) to
/// 15 % (the farm) larger (BENCHMARKS.md, Run 20 "lz4 packing"). zstd frames
/// of any level, what older builds wrote, still read.
pub(crate) const LZ4_TAG: u8 = 0xff;

/// Records of at least this many bytes are packed with zstd at
/// [`LARGE_PACK_LEVEL`], the rest with lz4 ([`LZ4_TAG`]).
/// They are ~1.5 % of real feeds' records but ~10 % of their bytes (long
/// articles), and without entropy coding text with few repeats shrinks
/// little: 22 KB of Arabic letters packs to 17.4 KB at zstd level -1 and to
/// 11.5 KB at level 1. The farm's records (at most 6.6 KB) are all below it.
const LARGE_RECORD: usize = 8 << 10;

/// zstd level of records from [`LARGE_RECORD`] up.
const LARGE_PACK_LEVEL: i32 = 1;

/// A record larger than this after unpacking is taken as corrupt rather than
/// allocated (items are capped far below it at parse).
const MAX_RECORD: u64 = 64 << 20;

thread_local! {
    // One zstd context per thread, reused: creating one costs more than
    // compressing a record.
    static PACKER: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static UNPACKER: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// [`encode`], then packed: how the sled backend stores records. Each record
/// is compressed once, by the thread that encodes it, and never again (sled's
/// own compression recompresses whole pages on every rewrite). A record that
/// would not shrink stays plain.
pub(crate) fn encode_packed(item: &Item) -> Vec<u8> {
    with_plain(item, pack)
}

/// A plain record packed (see [`encode_packed`]).
fn pack(plain: &[u8]) -> Vec<u8> {
    let packed = if plain.len() < LARGE_RECORD {
        Some(lz4_pack(plain))
    } else {
        PACKER.with(|cell| {
            let mut cell = cell.borrow_mut();
            let packer = match cell.as_mut() {
                Some(p) => p,
                None => cell.insert(zstd::bulk::Compressor::new(LARGE_PACK_LEVEL).ok()?),
            };
            packer.compress(plain).ok()
        })
    };
    match packed {
        Some(packed) if packed.len() < plain.len() => packed,
        _ => plain.to_vec(),
    }
}

thread_local! {
    // lz4's hash table (8 KB, zeroed per block) and a block buffer of the
    // largest bound seen up to `KEEP_PLAIN`, reused: the packed bytes are
    // copied out at their own size.
    static LZ4: std::cell::RefCell<(lz4_flex::block::CompressTable, Vec<u8>)> =
        std::cell::RefCell::new((lz4_flex::block::CompressTable::default(), Vec::new()));
}

/// `plain` as [`LZ4_TAG`], its length and an lz4 block (records, and the
/// journal's parts in `sled`).
pub(crate) fn lz4_pack(plain: &[u8]) -> Vec<u8> {
    LZ4.with_borrow_mut(|(table, scratch)| {
        let bound = lz4_flex::block::get_maximum_output_size(plain.len());
        if scratch.len() < bound {
            scratch.resize(bound, 0);
        }
        let n = lz4_flex::block::compress_into_with_table(plain, scratch, table).expect("the bound fits");
        let mut out = Vec::with_capacity(5 + n);
        out.push(LZ4_TAG);
        out.extend_from_slice(&u32::try_from(plain.len()).expect("under 4 GiB").to_le_bytes());
        out.extend_from_slice(&scratch[..n]);
        if scratch.len() > KEEP_PLAIN {
            *scratch = Vec::new();
        }
        out
    })
}

/// What [`lz4_pack`] wrote, unpacked; `None` if `bytes` do not start with
/// [`LZ4_TAG`].
pub(crate) fn lz4_unpack(bytes: &[u8]) -> Option<Result<Vec<u8>, String>> {
    let rest = bytes.strip_prefix(&[LZ4_TAG])?;
    Some((|| {
        let (size, block) = rest.split_first_chunk::<4>().ok_or("no length")?;
        let size = u64::from(u32::from_le_bytes(*size));
        if size > MAX_RECORD {
            return Err(format!("{size} bytes unpacked"));
        }
        let mut out = vec![0; size as usize];
        let got = lz4_flex::block::decompress_into(block, &mut out).map_err(|e| e.to_string())?;
        if got != out.len() {
            return Err(format!("{got} of {size} bytes unpacked"));
        }
        Ok(out)
    })())
}

/// Reads a record written by [`encode`] or [`encode_packed`], of this build
/// or an older one.
pub(crate) fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    if bytes.starts_with(&ZSTD_MAGIC) {
        return decode_plain(&unpack(bytes)?);
    }
    if let Some(plain) = lz4_unpack(bytes) {
        return decode_plain(&plain.map_err(|e| StoreError::Corrupt(format!("packed record: {e}")))?);
    }
    decode_plain(bytes)
}

fn unpack(bytes: &[u8]) -> Result<Vec<u8>, StoreError> {
    let corrupt = |what: &dyn std::fmt::Display| StoreError::Corrupt(format!("packed record: {what}"));
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(size)) if size <= MAX_RECORD => size as usize,
        Ok(Some(size)) => return Err(corrupt(&format!("{size} bytes unpacked"))),
        Ok(None) | Err(_) => return Err(corrupt(&"no content size")),
    };
    UNPACKER.with(|cell| {
        let mut cell = cell.borrow_mut();
        let unpacker = match cell.as_mut() {
            Some(u) => u,
            None => cell.insert(zstd::bulk::Decompressor::new().map_err(|e| corrupt(&e))?),
        };
        unpacker.decompress(bytes, size).map_err(|e| corrupt(&e))
    })
}

fn decode_plain(bytes: &[u8]) -> Result<Item, StoreError> {
    match postcard::from_bytes(bytes) {
        Ok(Record::V1(item)) => Ok(item),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

/// Names this node in a fleet: `FEEDWIRE_NODE`, else the host name. Two
/// processes with one name still never share a lease (a lease is only
/// granted when none is live), but status would not tell them apart.
pub fn node_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("FEEDWIRE_NODE")
            .ok()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| "feedwire".to_owned())
    })
    .clone()
}

/// What the store holds under a key, as seen from one feed
/// ([`Store::lookup`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Neither stored nor pruned: ingesting it makes it new.
    Unknown,
    /// Stored with this feed among its sources (with the item's sort date),
    /// or pruned (`None`): ingesting it from this feed would change nothing
    /// but its text, when the record carries this feed's (`print`).
    Known { date: Option<i64>, print: StoredPrint },
    /// Stored, brought by other feeds only, with this sort date: ingesting
    /// a [`Sighting`] of it adds the feed as a source. The record is not
    /// read.
    Elsewhere { date: i64 },
}

/// [`Store::keys_from`]: key → (sort date, what the store holds of the
/// feed's text).
pub type KeysFrom = std::collections::HashMap<String, (i64, StoredPrint)>;

/// Whether this node may poll a feed now (see [`Store::claim`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The lease is ours: poll, then [`Store::release`]. With the feed's
    /// saved state (`None`: never polled), read with the lease, so that a
    /// fleet poll starts with one round trip to the database.
    Granted(Option<Box<FeedState>>),
    /// Another node polled it since; it is next due at this time.
    NotDue(i64),
    /// Another node holds a live lease until this time.
    Held(i64),
}

/// What [`Store::take_host_slot`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostSlot {
    /// This slot is ours until it is freed or its lease ends.
    Taken(u32),
    /// All `per_host` slots are busy: wait and ask again.
    Busy,
    /// The feed lease the slot was asked with is no longer ours: do not
    /// fetch (another node may be polling the feed).
    LeaseLost,
}

/// The open store: one of the backends. Cheap to clone.
#[derive(Clone)]
pub enum Store {
    Sled(SledStore),
    Postgres(PgStore),
}

/// Calls the same method on whichever backend is open.
macro_rules! dispatch {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Store::Sled($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl Store {
    /// Opens (or creates) a sled store in `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        SledStore::open(path).map(Store::Sled)
    }

    /// Connects to a PostgreSQL store, creating its tables if needed.
    pub fn connect(url: &str, pool: &PoolSettings) -> Result<Store, StoreError> {
        PgStore::connect(url, pool).map(Store::Postgres)
    }

    /// Opens the store `[storage]` configures.
    pub fn open_storage(storage: &crate::config::StorageConfig) -> Result<Store, StoreError> {
        match storage.backend {
            crate::config::Backend::Sled => Store::open(&storage.path),
            crate::config::Backend::Postgres => Store::connect(
                storage.url.as_deref().unwrap_or_default(),
                &PoolSettings::from(storage),
            ),
        }
    }

    /// As [`Store::open_storage`], with a message that names where the
    /// store is (never a password).
    pub fn open_configured(storage: &crate::config::StorageConfig) -> anyhow::Result<Store> {
        use anyhow::Context;
        Store::open_storage(storage).with_context(|| match storage.backend {
            crate::config::Backend::Sled => format!("opening store {}", storage.path.display()),
            crate::config::Backend::Postgres => format!(
                "opening PostgreSQL store {}",
                postgres::redact(storage.url.as_deref().unwrap_or_default())
            ),
        })
    }

    /// `sled` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sled(_) => "sled",
            Store::Postgres(_) => "postgres",
        }
    }

    /// True when other processes may share this store (a fleet).
    pub fn is_shared(&self) -> bool {
        matches!(self, Store::Postgres(_))
    }

    /// True when no other process can render from this store while this
    /// handle is open (sled's file lock): a caller that renders once, at
    /// its end, may then claim full-text items without holding them
    /// ([`FullTextClaim::hold`]). On PostgreSQL other nodes render from
    /// the same rows at any moment, so claims are always held.
    pub fn renders_alone(&self) -> bool {
        matches!(self, Store::Sled(_))
    }

    /// Stores the items of one document. New keys are inserted; a known key
    /// seen through another feed gains that feed as a source. Atomic per call.
    pub fn ingest(&self, items: &[Item]) -> Result<IngestReport, StoreError> {
        dispatch!(self, s => s.ingest(items))
    }

    /// [`Store::ingest`] for a `full_text` feed: also claims for extraction
    /// each item that `claim.wanted` and that is new to the store (as
    /// [`Store::claim_full_text`] does), so that it is held back until its
    /// article had its chance; each item is claimed once, whichever feed
    /// brings it. Returns the keys claimed. sled writes the claims in the
    /// ingest's own group commit (all or none with its items); PostgreSQL, whose
    /// writes are round trips of their own, claims first and takes the
    /// claims back if the ingest fails.
    pub fn ingest_claiming(
        &self,
        items: &[Item],
        claim: Option<&FullTextClaim<'_>>,
    ) -> Result<(IngestReport, Vec<ItemKey>), StoreError> {
        self.ingest_document(items, &[], claim)
    }

    /// [`Store::ingest_document`] with the document's [`Revision`]s, in the
    /// same atomic ingest: each records its fingerprint, and a revision
    /// whose published text differs from the record's rewrites the record
    /// ([`IngestReport::revised`]; see [`revised`] for what is kept).
    pub fn ingest_parsed(
        &self,
        items: &[Item],
        sightings: &[Sighting],
        revisions: &[Revision],
        claim: Option<&FullTextClaim<'_>>,
    ) -> Result<Ingested, StoreError> {
        let (s, claim) = match (self, claim) {
            (Store::Sled(s), claim) => return s.ingest_parsed(items, sightings, revisions, claim),
            (Store::Postgres(s), None) => return s.ingest_parsed(items, sightings, revisions),
            (Store::Postgres(s), Some(claim)) => (s, claim),
        };
        let mut claimed = Vec::new();
        for item in items.iter().filter(|i| (claim.wanted)(i)) {
            let claim = s.contains(&item.key).and_then(|known| {
                Ok(!known && s.claim_full_text(&item.key, claim.feed_url, claim.hold_until)?)
            });
            match claim {
                Ok(true) => claimed.push(item.key.clone()),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(key = %item.key.as_str(), error = %e, "Cannot queue an item for full-text extraction.")
                }
            }
        }
        match s.ingest_parsed(items, sightings, revisions) {
            Ok(ingested) => Ok(Ingested { claimed, ..ingested }),
            Err(e) => {
                for key in &claimed {
                    let _ = s.unclaim_full_text(key);
                }
                Err(e)
            }
        }
    }

    /// [`Store::ingest_claiming`] for a whole parsed document: its built
    /// items and its [`Sighting`]s of stories other feeds brought, in one
    /// atomic ingest. A sighting adds its feed to the stored item's sources
    /// (counted as a duplicate, and merged if the feed was not listed); the
    /// item's record is not read nor written. A sighting of an item no
    /// longer stored adds nothing.
    pub fn ingest_document(
        &self,
        items: &[Item],
        sightings: &[Sighting],
        claim: Option<&FullTextClaim<'_>>,
    ) -> Result<(IngestReport, Vec<ItemKey>), StoreError> {
        self.ingest_parsed(items, sightings, &[], claim)
            .map(|i| (i.report, i.claimed))
    }

    /// The last write error, while writes keep failing.
    pub fn write_failure(&self) -> Option<String> {
        dispatch!(self, s => s.write_failure())
    }

    /// One bounded pruning pass at time `now` (Unix seconds): items older
    /// than the retention or beyond the count limit become seen records;
    /// expired seen records go. At most `batch` of each per call.
    pub fn prune(&self, now: i64, policy: &Retention, batch: usize) -> Result<PruneReport, StoreError> {
        dispatch!(self, s => s.prune(now, policy, batch))
    }

    /// Seen records kept for pruned items.
    pub fn seen_count(&self) -> usize {
        dispatch!(self, s => s.seen_count())
    }

    /// Calls `f` with every stored item, oldest first, until it returns false.
    pub fn for_each_item(&self, f: impl FnMut(Item) -> bool) -> Result<(), StoreError> {
        dispatch!(self, s => s.for_each_item(f))
    }

    /// Calls `f` with every seen record (key, first seen), oldest first,
    /// until it returns false.
    pub fn for_each_seen(&self, f: impl FnMut(ItemKey, i64) -> bool) -> Result<(), StoreError> {
        dispatch!(self, s => s.for_each_seen(f))
    }

    /// Adds seen records (an import); keys stored as items are left alone.
    /// Returns how many were added.
    pub fn import_seen(&self, records: &[(ItemKey, i64)]) -> Result<usize, StoreError> {
        dispatch!(self, s => s.import_seen(records))
    }

    /// The newest items by date (newest first) for which `keep` holds, at
    /// most `limit` of them, examining at most `scan_limit` stored items.
    pub fn recent(
        &self,
        limit: usize,
        scan_limit: usize,
        keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        dispatch!(self, s => s.recent(limit, scan_limit, keep))
    }

    /// [`Store::recent`], passing over the keys in `except` (items held for
    /// their full text) before they are read: while a cold round holds tens
    /// of thousands of items, a render would otherwise read and decode up to
    /// `scan_limit` items it cannot publish.
    pub fn recent_except(
        &self,
        limit: usize,
        scan_limit: usize,
        except: &std::collections::HashSet<ItemKey>,
        keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        dispatch!(self, s => s.recent_except(limit, scan_limit, except, keep))
    }

    /// [`Store::recent`] without the items held for their full text: what
    /// a render publishes. sled asks its held tree per entry instead of
    /// building the set of held keys; PostgreSQL reads the set once.
    pub fn recent_unheld(
        &self,
        limit: usize,
        scan_limit: usize,
        keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        match self {
            Store::Sled(s) => s.recent_unheld(limit, scan_limit, keep),
            Store::Postgres(s) => s.recent_except(limit, scan_limit, &s.full_text_held()?, keep),
        }
    }

    /// True when ingesting this key from this feed would change nothing:
    /// the item is stored with the feed among its sources, or was pruned.
    pub fn knows(&self, key: &ItemKey, feed_url: &str) -> bool {
        dispatch!(self, s => s.knows(key, feed_url))
    }

    /// What ingesting this key from this feed would meet, in one read
    /// (sled: one `keys` lookup, then the record only for an item other
    /// feeds brought; PostgreSQL: one query): [`Store::knows`] and
    /// [`Store::get`] together, for the parser's per-entry question.
    pub fn lookup(&self, key: &ItemKey, feed_url: &str) -> Result<Lookup, StoreError> {
        dispatch!(self, s => s.lookup(key, feed_url))
    }

    /// The keys of the stored items that `feed_url` is a source of, with
    /// their sort dates and what the store holds of the feed's text (for a
    /// shared store, one query instead of a [`Store::knows`] per entry).
    pub fn keys_from(&self, feed_url: &str) -> Result<KeysFrom, StoreError> {
        match self {
            Store::Sled(s) => {
                let mut keys = Vec::new();
                s.for_each_item(|item| {
                    if item.sources.iter().any(|src| src.feed_url == feed_url) {
                        keys.push(item.key);
                    }
                    true
                })?;
                let mut found = KeysFrom::new();
                for key in keys {
                    if let Lookup::Known {
                        date: Some(date),
                        print,
                    } = s.lookup(&key, feed_url)?
                    {
                        found.insert(key.as_str().to_owned(), (date, print));
                    }
                }
                Ok(found)
            }
            Store::Postgres(s) => s.keys_from(feed_url),
        }
    }

    /// One item by key.
    pub fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        dispatch!(self, s => s.get(key))
    }

    /// True when the key is stored or was pruned: ingesting it again would
    /// not make it new. The record is not read.
    pub fn contains(&self, key: &ItemKey) -> Result<bool, StoreError> {
        dispatch!(self, s => s.contains(key))
    }

    /// The number of stored items.
    pub fn item_count(&self) -> usize {
        dispatch!(self, s => s.item_count())
    }

    /// The saved state of one feed, if it was ever polled.
    pub fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError> {
        dispatch!(self, s => s.feed_state(feed_url))
    }

    /// Calls `f` with every saved feed state (any order; feeds no longer
    /// configured included) until it returns false. One walk: with 100,000
    /// feeds, a lookup per feed costs tens of seconds on a cold cache.
    pub fn for_each_feed_state(&self, f: impl FnMut(&str, FeedState) -> bool) -> Result<(), StoreError> {
        dispatch!(self, s => s.for_each_feed_state(f))
    }

    /// [`Store::for_each_feed_state`] reading only each feed's site link
    /// (`None`: never given). Every render walks every feed for it (OPML,
    /// story outlets); decoding the whole state allocated each of its
    /// strings, for one of them (BENCHMARKS.md, Run 14 "warm poll").
    pub fn for_each_feed_site(
        &self,
        mut f: impl FnMut(&str, Option<String>) -> bool,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.for_each_feed_state(|url, state: FeedSite| f(url, state.site_url)))
    }

    pub fn put_feed_state(&self, feed_url: &str, state: &FeedState) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_feed_state(feed_url, state))
    }

    /// Makes every acknowledged write durable (PostgreSQL: already is).
    pub fn flush(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.flush())
    }

    /// Bytes used on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.size_on_disk())
    }

    // Full-text extraction records (`full_text = true`, issue 13), kept by
    // both backends: on PostgreSQL the claim is fleet-wide, so each page is
    // fetched once by the whole fleet.

    /// Queues a new item for extraction, held back until `hold_until`;
    /// false if it was queued before, so each page is fetched once.
    pub fn claim_full_text(
        &self,
        key: &ItemKey,
        feed_url: &str,
        hold_until: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.claim_full_text(key, feed_url, hold_until))
    }

    pub fn full_text(&self, key: &ItemKey) -> Result<Option<FullTextRecord>, StoreError> {
        dispatch!(self, s => s.full_text(key))
    }

    pub fn pending_full_text(&self) -> Result<Vec<(ItemKey, FullTextRecord)>, StoreError> {
        dispatch!(self, s => s.pending_full_text())
    }

    /// At most `limit` pending full-text claims with keys after `after`, in
    /// key order: the full-text task reads its backlog back a page at a
    /// time instead of holding it all.
    pub fn pending_full_text_after(
        &self,
        after: Option<&ItemKey>,
        limit: usize,
    ) -> Result<Vec<(ItemKey, FullTextRecord)>, StoreError> {
        dispatch!(self, s => s.pending_full_text_after(after, limit))
    }

    pub fn full_text_held(&self) -> Result<std::collections::HashSet<ItemKey>, StoreError> {
        dispatch!(self, s => s.full_text_held())
    }

    pub fn release_expired_full_text(&self, now: i64) -> Result<usize, StoreError> {
        dispatch!(self, s => s.release_expired_full_text(now))
    }

    /// The end of a one-shot run's wait for its articles (`poll-once`):
    /// every hold ends (as [`Store::release_expired_full_text`] at the end
    /// of time), and each claim taken without a hold
    /// ([`FullTextClaim::hold`]) that is still pending is counted as a
    /// fallback, once ([`Store::settle_unheld_full_text`]): it is published
    /// with its feed's content and its page stays queued. Returns how many
    /// were released or counted.
    pub fn end_full_text_holds(&self) -> Result<usize, StoreError> {
        match self {
            // Counted before the holds end: a released record reads as
            // one never held.
            Store::Sled(s) => Ok(s.settle_unheld_full_text()? + s.release_expired_full_text(i64::MAX)?),
            Store::Postgres(s) => s.release_expired_full_text(i64::MAX),
        }
    }

    /// Counts as fallbacks, once, the claims taken without a hold that are
    /// still pending and were not counted yet: this run's, or those a
    /// `poll-once` killed before its end left (sled; PostgreSQL always
    /// holds, and answers 0). The daemon calls it when it starts, since its
    /// first render publishes them with their feeds' content; `poll-once`
    /// at its end ([`Store::end_full_text_holds`]). Returns how many.
    pub fn settle_unheld_full_text(&self) -> Result<usize, StoreError> {
        match self {
            Store::Sled(s) => s.settle_unheld_full_text(),
            Store::Postgres(_) => Ok(0),
        }
    }

    pub fn release_full_text(&self, key: &ItemKey, fallback: bool) -> Result<(), StoreError> {
        dispatch!(self, s => s.release_full_text(key, fallback))
    }

    pub fn finish_full_text(
        &self,
        key: &ItemKey,
        outcome: Result<String, String>,
        now: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.finish_full_text(key, outcome, now))
    }

    /// [`Store::finish_full_text`] for several items: sled writes them in
    /// one transaction (the full-text task hands over every outcome waiting
    /// at once, as ingest's group commit does); PostgreSQL, whose writes
    /// are round trips of their own, one after the other. One answer per
    /// outcome, in order.
    pub fn finish_full_text_batch(
        &self,
        outcomes: &[(ItemKey, Result<String, String>)],
        now: i64,
    ) -> Vec<Result<bool, StoreError>> {
        match self {
            Store::Sled(s) => s.finish_full_text_batch(outcomes, now),
            Store::Postgres(s) => outcomes
                .iter()
                .map(|(key, outcome)| s.finish_full_text(key, outcome.clone(), now))
                .collect(),
        }
    }

    pub fn unclaim_full_text(&self, key: &ItemKey) -> Result<(), StoreError> {
        dispatch!(self, s => s.unclaim_full_text(key))
    }

    pub fn full_text_stats(&self, feed_url: &str) -> Result<FullTextStats, StoreError> {
        dispatch!(self, s => s.full_text_stats(feed_url))
    }

    /// Sites whose article pages keep failing (full text), with when they
    /// may be tried again; read when the full-text task starts.
    pub fn site_backoffs(&self) -> Result<Vec<(String, SiteBackoff)>, StoreError> {
        dispatch!(self, s => s.site_backoffs())
    }

    /// Records (or, with `None`, clears) a site's backoff.
    pub fn put_site_backoff(&self, host: &str, backoff: Option<&SiteBackoff>) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_site_backoff(host, backoff))
    }

    /// Asks to poll `feed_url` now, at `now` (Unix seconds), for at most
    /// `ttl`; when granted, with the feed's saved state. sled has one
    /// process per store and always grants; PostgreSQL grants to one node
    /// per due time (see `postgres.rs`), in one statement with the state.
    pub fn claim(
        &self,
        feed_url: &str,
        node: &str,
        now: i64,
        ttl: std::time::Duration,
    ) -> Result<Claim, StoreError> {
        match self {
            Store::Sled(s) => Ok(Claim::Granted(s.feed_state(feed_url)?.map(Box::new))),
            Store::Postgres(s) => s.claim(feed_url, node, now, ttl),
        }
    }

    /// Extends this node's lease on `feed_url` by `ttl` from now (on the
    /// database's clock); false when the lease is no longer ours (it
    /// expired and another node took it).
    pub fn renew(&self, feed_url: &str, node: &str, ttl: std::time::Duration) -> Result<bool, StoreError> {
        match self {
            Store::Sled(_) => Ok(true),
            Store::Postgres(s) => s.renew(feed_url, node, ttl),
        }
    }

    /// Ends this node's lease on `feed_url`, which is next due at
    /// `next_due`, and saves the feed's state: both or neither, in one
    /// round trip (PostgreSQL). False when the lease was no longer ours:
    /// then nothing is written, as the state belongs to the node that
    /// holds the lease now (or polled after it). sled: saves the state.
    pub fn release(
        &self,
        feed_url: &str,
        node: &str,
        next_due: i64,
        state: &FeedState,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sled(s) => s.put_feed_state(feed_url, state).map(|()| true),
            Store::Postgres(s) => s.release(feed_url, node, next_due, state),
        }
    }

    /// Takes one of `per_host` fleet-wide fetch slots for `host`. With
    /// `lease` (feed URL, node), only while that node still holds the
    /// feed's lease, which the same statement renews for `ttl`: the
    /// renewal right before fetching costs no round trip of its own.
    /// sled: no fleet, always a slot (the in-process limit applies).
    pub fn take_host_slot(
        &self,
        host: &str,
        per_host: usize,
        holder: &str,
        ttl: std::time::Duration,
        lease: Option<(&str, &str)>,
    ) -> Result<HostSlot, StoreError> {
        match self {
            Store::Sled(_) => Ok(HostSlot::Taken(0)),
            Store::Postgres(s) => s.take_host_slot(host, per_host, holder, ttl, lease),
        }
    }

    /// Gives a slot from [`Store::take_host_slot`] back.
    pub fn free_host_slot(&self, host: &str, slot: u32, holder: &str) -> Result<(), StoreError> {
        match self {
            Store::Sled(_) => Ok(()),
            Store::Postgres(s) => s.free_host_slot(host, slot, holder),
        }
    }

    /// Records that `node` is alive at `now`.
    pub fn heartbeat(&self, node: &str, now: i64) -> Result<(), StoreError> {
        match self {
            Store::Sled(_) => Ok(()),
            Store::Postgres(s) => s.heartbeat(node, now),
        }
    }

    /// Records that `node` (re)started at `now`.
    pub fn node_started(&self, node: &str, now: i64) -> Result<(), StoreError> {
        match self {
            Store::Sled(_) => Ok(()),
            Store::Postgres(s) => s.node_started(node, now),
        }
    }

    /// False while the database cannot be reached (sled: always true).
    /// Cheap: a flag the backend's probe keeps.
    pub fn reachable(&self) -> bool {
        match self {
            Store::Sled(_) => true,
            Store::Postgres(s) => s.reachable(),
        }
    }

    /// The fleet's nodes with their last heartbeat (empty for sled).
    pub fn nodes(&self) -> Result<Vec<NodeStatus>, StoreError> {
        match self {
            Store::Sled(_) => Ok(Vec::new()),
            Store::Postgres(s) => s.nodes(),
        }
    }

    /// A fleet node's second: [`Store::heartbeat`] (with `started`,
    /// [`Store::node_started`]) and [`Store::change_counter`] in one round
    /// trip. sled: nothing to record, and 0.
    pub fn fleet_tick(&self, node: &str, now: i64, started: bool) -> Result<i64, StoreError> {
        match self {
            Store::Sled(_) => Ok(0),
            Store::Postgres(s) => s.fleet_tick(node, now, started),
        }
    }

    /// A number that grows whenever any node changed what outputs show
    /// (items or sources). Nodes compare it to learn of others' changes;
    /// sled has no other writers and answers 0.
    pub fn change_counter(&self) -> Result<i64, StoreError> {
        match self {
            Store::Sled(_) => Ok(0),
            Store::Postgres(s) => s.change_counter(),
        }
    }
}

#[cfg(test)]
mod feed_state_tests {
    use super::FeedState;

    #[test]
    fn defaults_are_left_out_and_a_full_record_still_reads() {
        let [full, sparse] = super::suite::full_and_sparse_states();
        let text = serde_json::to_string(&sparse).unwrap();
        for absent in [
            "last_error",
            "gone",
            "consecutive_failures",
            "permanent_redirect",
            "shared_links",
            "discovered_feed",
            "null",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        assert_eq!(serde_json::from_str::<FeedState>(&text).unwrap(), sparse);
        // Every field away from its default is written.
        let text = serde_json::to_string(&full).unwrap();
        assert_eq!(serde_json::from_str::<FeedState>(&text).unwrap(), full);
        // What earlier builds wrote, every field present (nulls and zeros
        // included), reads the same.
        let old = r#"{"etag":"\"v1\"","last_modified":null,"body_hash":null,"last_attempt":1796000100,"last_success":1796000100,"last_status":304,"consecutive_failures":0,"last_error":null,"next_due":1796001000,"permanent_redirect":null,"gone":false,"charset":null,"items_seen":0,"items_new":0,"bytes":0,"title":"أخبار اليوم","site_url":null,"publisher_interval":null,"no_entries":null,"repaired":null,"items_too_old":0,"polled_by":"node-a"}"#;
        assert_eq!(serde_json::from_str::<FeedState>(old).unwrap(), sparse);
    }
}

#[cfg(test)]
mod record_tests {
    use super::{decode, encode, encode_packed, Record, KEEP_PLAIN};
    use crate::item::Item;

    /// Items of the Arabic fixtures (UTF-8 and windows-1256), and one
    /// grown past the kept buffer's size.
    fn arabic_items() -> Vec<Item> {
        let mut items = crate::parse::arabic_fixture_items();
        // As items read back: the fingerprint is kept beside the record.
        for it in &mut items {
            it.fingerprint = None;
        }
        let mut long = items[0].clone();
        long.content = Some("<p dir=\"rtl\">نص الخبر، فقرة بعد فقرة.</p>".repeat(2 * KEEP_PLAIN / 60));
        items.insert(1, long);
        items
    }

    /// The thread's reused buffer writes what a fresh `Vec` per record
    /// wrote, whatever the order of sizes: a record after a larger one (a
    /// buffer to clear), after one past the kept size (a buffer let go).
    #[test]
    fn records_from_the_reused_buffer_are_the_fresh_ones() {
        let items = arabic_items();
        for it in items.iter().chain(items.iter().rev()) {
            let fresh = postcard::to_stdvec(&Record::V1(it.clone())).unwrap();
            assert_eq!(encode(it), fresh, "{}", it.key.as_str());
            let packed = encode_packed(it);
            assert_eq!(&decode(&packed).unwrap(), it);
            assert!(packed.len() <= fresh.len());
        }
    }
}
