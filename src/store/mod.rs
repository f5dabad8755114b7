//! The dedup store: the only module that touches sled.
//!
//! Trees:
//! - `items`: [`ItemKey`] → versioned postcard record of the [`Item`]. The
//!   key is the canonical link, so "have we seen this story?" is one lookup.
//! - `by_date`: big-endian sort date ‖ key → (). Newest-first reads walk this
//!   index backwards and stop after `limit` hits instead of scanning items.
//! - `feeds`: feed URL → JSON [`FeedState`] (validators, last fetch, schedule).
//!   JSON because it is small, per feed, and grows fields often.
//! - `meta`: the schema version.
//!
//! Invariants: an item is inserted once and never becomes new again; both
//! trees are written in one sled transaction per fetched document, so a crash
//! leaves either all of a document's items (with their index entries) or none.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use crate::item::{Item, ItemKey, Source};

/// The on-disk layout this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;
const SCHEMA_KEY: &[u8] = b"schema";

/// How long `open` waits for a lock that this process may be releasing.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (usually the running daemon) holds the store.
    #[error("store {} is in use by another process (is the feedwire daemon running? stop it, or use its HTTP endpoints)", path.display())]
    Locked { path: PathBuf },
    /// The store was written by a feedwire with another layout.
    #[error("store {} has schema version {found}, this feedwire reads version {SCHEMA_VERSION}", path.display())]
    UnknownSchema { path: PathBuf, found: u32 },
    /// A stored record could not be decoded.
    #[error("corrupt record in store: {0}")]
    Corrupt(String),
    /// sled reported an I/O or internal error.
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
}

/// What ingesting one document changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Items never seen before.
    pub new: usize,
    /// Items already stored; `merged` of them gained this feed as a source.
    pub duplicate: usize,
    pub merged: usize,
}

impl IngestReport {
    /// True when outputs may need rendering again.
    pub fn changed(&self) -> bool {
        self.new > 0 || self.merged > 0
    }
}

/// Per-feed state kept across restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedState {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Hex SHA-256 of the last body parsed: an identical 200 is not parsed again.
    pub body_hash: Option<String>,
    /// Unix seconds.
    pub last_attempt: Option<i64>,
    pub last_success: Option<i64>,
    pub last_status: Option<u16>,
    pub consecutive_failures: u32,
    /// One line, for operators.
    pub last_error: Option<String>,
    /// Unix seconds of the next poll.
    pub next_due: Option<i64>,
    /// Where a 301/308 chain led; polled instead of the configured URL.
    pub permanent_redirect: Option<String>,
    /// 410 Gone: not polled again until a restart or reload.
    pub gone: bool,
    pub charset: Option<String>,
    /// Items in the last document parsed, and how many were new.
    pub items_seen: usize,
    pub items_new: usize,
    pub bytes: u64,
    pub title: Option<String>,
    /// The feed's own web site (its channel link), for OPML `htmlUrl`.
    pub site_url: Option<String>,
    /// The least interval the publisher asked for in the document, seconds
    /// (`<ttl>`, `sy:updatePeriod`); kept for the 304s that follow.
    pub publisher_interval: Option<u64>,
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

/// A handle to the open store; cheap to clone (sled trees are `Arc`s).
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    items: sled::Tree,
    by_date: sled::Tree,
    feeds: sled::Tree,
    /// Pruned items' keys → first-seen time: a feed that still lists an old
    /// article never brings it back as new.
    seen: sled::Tree,
    /// first-seen ‖ key → (), to expire `seen` without a scan.
    seen_by_date: sled::Tree,
    /// Items stored: sled's `len()` walks the whole tree, so the count is
    /// taken once at open and kept up to date by ingest and prune.
    count: Arc<AtomicUsize>,
    /// The last write error, until a write succeeds (a full disk leaves
    /// reads working, so health checks need this).
    write_failure: Arc<std::sync::Mutex<Option<String>>>,
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

impl Store {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        // sled's background threads let go of the file lock a moment after
        // the last handle in this process is dropped, so a store closed just
        // now may still look locked; give it a bounded grace period. Another
        // process holding the lock still fails, only later.
        let deadline = std::time::Instant::now() + LOCK_GRACE;
        let db = loop {
            match Store::open_db(path) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        let meta = db.open_tree("meta")?;
        match meta.get(SCHEMA_KEY)? {
            None => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(u32::from_be_bytes)
                    .unwrap_or(u32::MAX);
                if found != SCHEMA_VERSION {
                    return Err(StoreError::UnknownSchema {
                        path: path.to_owned(),
                        found,
                    });
                }
            }
        }
        let items = db.open_tree("items")?;
        Ok(Store {
            by_date: db.open_tree("by_date")?,
            feeds: db.open_tree("feeds")?,
            seen: db.open_tree("seen")?,
            seen_by_date: db.open_tree("seen_by_date")?,
            count: Arc::new(AtomicUsize::new(items.len())),
            write_failure: Arc::default(),
            items,
            db,
        })
    }

    fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
        sled::Config::new()
            .path(path)
            // sled's default page cache is 1 GiB; outputs read a few hundred
            // recent items, so a small cache is enough.
            .cache_capacity(64 * 1024 * 1024)
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
    /// seen through another feed gains that feed as a source. Atomic per call.
    pub fn ingest(&self, items: &[Item]) -> Result<IngestReport, StoreError> {
        if items.is_empty() {
            return Ok(IngestReport::default());
        }
        let result =
            (&self.items, &self.by_date, &self.seen).transaction(|(tx_items, tx_by_date, tx_seen)| {
                let mut report = IngestReport::default();
                for item in items {
                    let key = item.key.as_str().as_bytes();
                    match tx_items.get(key)? {
                        // Stored once and pruned since: still not new.
                        None if tx_seen.get(key)?.is_some() => report.duplicate += 1,
                        None => {
                            tx_items.insert(key, encode(item))?;
                            tx_by_date.insert(date_key(item.date, &item.key), &[])?;
                            report.new += 1;
                        }
                        Some(bytes) => {
                            report.duplicate += 1;
                            let mut stored = decode(&bytes).map_err(ConflictableTransactionError::Abort)?;
                            if add_sources(&mut stored.sources, &item.sources) {
                                tx_items.insert(key, encode(&stored))?;
                                report.merged += 1;
                            }
                        }
                    }
                }
                Ok(report)
            });
        let report = self.noted(result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }))?;
        self.count.fetch_add(report.new, Ordering::Relaxed);
        Ok(report)
    }

    /// Records whether a write worked, for [`Store::write_failure`].
    fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let mut failure = self.write_failure.lock().expect("lock poisoned");
        *failure = result.as_ref().err().map(|e| e.to_string());
        result
    }

    /// The last write error, while writes keep failing.
    pub fn write_failure(&self) -> Option<String> {
        self.write_failure.lock().expect("lock poisoned").clone()
    }

    /// One bounded pruning pass at time `now` (Unix seconds): items older
    /// than the retention or beyond the count limit become seen records;
    /// expired seen records go. At most `batch` of each per call, so a caller
    /// can interleave passes with other work.
    pub fn prune(&self, now: i64, policy: &Retention, batch: usize) -> Result<PruneReport, StoreError> {
        let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(secs(policy.max_age));
        let over = self.item_count().saturating_sub(policy.max_items);
        let mut victims: Vec<sled::IVec> = Vec::new();
        for entry in self.by_date.iter() {
            if victims.len() >= batch {
                break;
            }
            let (k, _) = entry?;
            let date = date_of(&k);
            if date >= cutoff && victims.len() >= over {
                break;
            }
            victims.push(k);
        }
        let mut report = PruneReport {
            more: victims.len() >= batch,
            ..Default::default()
        };
        for k in &victims {
            let key = &k[8..];
            let moved = (&self.items, &self.by_date, &self.seen, &self.seen_by_date).transaction(
                |(items, by_date, seen, seen_by_date)| {
                    by_date.remove(k.as_ref())?;
                    let Some(bytes) = items.remove(key)? else {
                        return Ok(false);
                    };
                    let first_seen = decode(&bytes).map(|i| i.first_seen).unwrap_or(now);
                    seen.insert(key, &first_seen.to_be_bytes())?;
                    seen_by_date.insert(seen_key(first_seen, key), &[])?;
                    Ok(true)
                },
            );
            match moved {
                Ok(true) => {
                    report.items += 1;
                    self.count.fetch_sub(1, Ordering::Relaxed);
                }
                Ok(false) => {}
                Err(TransactionError::Abort(e)) => return Err(e),
                Err(TransactionError::Storage(e)) => return Err(StoreError::Sled(e)),
            }
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
            (&self.seen, &self.seen_by_date)
                .transaction(|(seen, seen_by_date)| {
                    seen_by_date.remove(k.as_ref())?;
                    seen.remove(&k[8..])?;
                    Ok::<_, ConflictableTransactionError<StoreError>>(())
                })
                .map_err(|e| match e {
                    TransactionError::Abort(e) => e,
                    TransactionError::Storage(e) => StoreError::Sled(e),
                })?;
            report.seen += 1;
        }
        Ok(report)
    }

    /// Seen records kept for pruned items.
    pub fn seen_count(&self) -> usize {
        self.seen.len()
    }

    /// Calls `f` with every stored item, oldest first, until it returns false.
    pub fn for_each_item(&self, mut f: impl FnMut(Item) -> bool) -> Result<(), StoreError> {
        for entry in self.by_date.iter() {
            let (k, _) = entry?;
            if let Some(bytes) = self.items.get(&k[8..])? {
                if !f(decode(&bytes)?) {
                    break;
                }
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
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(limit.min(1024));
        for entry in self.by_date.iter().rev().take(scan_limit) {
            if out.len() >= limit {
                break;
            }
            let (k, _) = entry?;
            let Some(bytes) = self.items.get(&k[8..])? else {
                continue;
            };
            let item = decode(&bytes)?;
            if keep(&item) {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// True when ingesting this key from this feed would change nothing:
    /// the item is stored with the feed among its sources, or was pruned.
    pub fn knows(&self, key: &ItemKey, feed_url: &str) -> bool {
        let k = key.as_str().as_bytes();
        match self.items.get(k) {
            Ok(Some(bytes)) => decode(&bytes).is_ok_and(|i| i.sources.iter().any(|s| s.feed_url == feed_url)),
            Ok(None) => self.seen.contains_key(k).unwrap_or(false),
            Err(_) => false,
        }
    }

    /// One item by key.
    pub fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        self.items
            .get(key.as_str().as_bytes())?
            .map(|b| decode(&b))
            .transpose()
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
        self.db.flush()?;
        Ok(())
    }

    /// Bytes used on disk, as sled counts them.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

/// Adds sources whose feed is not yet listed; true if any was added.
fn add_sources(existing: &mut Vec<Source>, new: &[Source]) -> bool {
    let mut changed = false;
    for s in new {
        if !existing.iter().any(|e| e.feed_url == s.feed_url) {
            existing.push(s.clone());
            changed = true;
        }
    }
    changed
}

/// Sort key: the date with its sign bit flipped, so that big-endian byte order
/// is numeric order for negative dates too, then the item key as tie-break.
fn date_key(date: i64, key: &ItemKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.as_str().len());
    k.extend_from_slice(&((date as u64) ^ (1 << 63)).to_be_bytes());
    k.extend_from_slice(key.as_str().as_bytes());
    k
}

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

fn encode(item: &Item) -> Vec<u8> {
    // `Record` borrows nothing, so clone into the envelope; items are small.
    postcard::to_stdvec(&Record::V1(item.clone())).expect("items serialise")
}

fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    match postcard::from_bytes(bytes) {
        Ok(Record::V1(item)) => Ok(item),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(link: &str, feed: &str, date: i64) -> Item {
        let url = url::Url::parse(link).unwrap();
        Item {
            key: ItemKey::from_link(&url),
            link: Some(link.to_owned()),
            title: format!("عنوان {date}"),
            summary: None,
            content: None,
            authors: vec![],
            categories: vec![],
            published: Some(date),
            updated: None,
            first_seen: 1000,
            date,
            language: Some("ar".into()),
            enclosure: None,
            sources: vec![Source {
                feed_url: feed.to_owned(),
                feed_name: feed.to_owned(),
                link: Some(link.to_owned()),
            }],
        }
    }

    #[test]
    fn insert_once_merge_sources_and_read_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = store
            .ingest(&[
                item("https://a.example/1", "f1", 10),
                item("https://a.example/2", "f1", -5),
                item("https://a.example/3", "f1", 30),
            ])
            .unwrap();
        assert_eq!(
            r,
            IngestReport {
                new: 3,
                duplicate: 0,
                merged: 0
            }
        );
        let r = store
            .ingest(&[
                item("http://a.example/1?utm_source=x", "f2", 10),
                item("https://a.example/2", "f1", -5),
            ])
            .unwrap();
        assert_eq!(
            r,
            IngestReport {
                new: 0,
                duplicate: 2,
                merged: 1
            }
        );
        let recent = store.recent(10, usize::MAX, |_| true).unwrap();
        let dates: Vec<i64> = recent.iter().map(|i| i.date).collect();
        assert_eq!(dates, vec![30, 10, -5]);
        assert_eq!(recent[1].sources.len(), 2);
        assert_eq!(store.recent(1, usize::MAX, |_| true).unwrap().len(), 1);
        assert_eq!(store.recent(10, usize::MAX, |i| i.date < 0).unwrap().len(), 1);
        assert_eq!(
            store.recent(10, 2, |i| i.date < 0).unwrap().len(),
            0,
            "scan stops after two entries"
        );
    }

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

    #[test]
    fn retention_prunes_to_seen_records_that_keep_items_old() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let day = 86_400;
        let now = 1_000 * day;
        let items: Vec<Item> = (0..10)
            .map(|i| {
                let mut it = item(&format!("https://a.example/{i}"), "f1", now - i * day);
                it.first_seen = now - i * day;
                it
            })
            .collect();
        store.ingest(&items).unwrap();
        let policy = Retention {
            max_age: std::time::Duration::from_secs(5 * day as u64),
            max_items: 100,
            seen_max_age: std::time::Duration::from_secs(30 * day as u64),
        };
        // Bounded batches: 2 at a time until done.
        let mut removed = 0;
        loop {
            let r = store.prune(now, &policy, 2).unwrap();
            removed += r.items;
            if !r.more {
                break;
            }
        }
        // Items 6..=9 days old are older than the 5-day retention (5 is on the edge and stays).
        assert_eq!(removed, 4);
        assert_eq!(store.item_count(), 6);
        assert_eq!(store.seen_count(), 4);
        // A feed that still lists a pruned article does not bring it back.
        let r = store
            .ingest(&[item("https://a.example/9", "f1", now - 9 * day)])
            .unwrap();
        assert_eq!((r.new, r.duplicate), (0, 1));
        assert_eq!(store.item_count(), 6);
        // The count limit removes the oldest beyond it.
        let tight = Retention {
            max_items: 3,
            ..policy
        };
        let r = store.prune(now, &tight, 100).unwrap();
        assert_eq!(r.items, 3);
        let dates: Vec<i64> = store
            .recent(10, usize::MAX, |_| true)
            .unwrap()
            .iter()
            .map(|i| i.date)
            .collect();
        assert_eq!(dates, vec![now, now - day, now - 2 * day]);
        // Seen records expire after their own, longer retention.
        let r = store.prune(now + 60 * day, &tight, 100).unwrap();
        assert_eq!(r.seen, 7 + 3, "every seen record is older than 30 days by then");
        let r = store
            .ingest(&[item("https://a.example/9", "f1", now - 9 * day)])
            .unwrap();
        assert_eq!(r.new, 1, "after seen_retention an article may come back");
    }

    #[test]
    fn unknown_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::open(dir.path()).unwrap();
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
}
