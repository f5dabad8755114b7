//! The embedded backend: sled, one process per store (the default).
//!
//! Trees:
//! - `items`: [`ItemKey`] → versioned postcard record of the [`Item`]. The
//!   key is the canonical link, so "have we seen this story?" is one lookup.
//! - `by_date`: big-endian sort date ‖ key → (). Newest-first reads walk this
//!   index backwards and stop after `limit` hits instead of scanning items.
//! - `feeds`: feed URL → JSON [`FeedState`] (validators, last fetch, schedule).
//!   JSON because it is small, per feed, and grows fields often.
//! - `seen`, `seen_by_date`: pruned items' keys, so they never come back.
//! - `meta`: the schema version.
//!
//! Invariants: an item is inserted once and never becomes new again; the
//! trees are written in one sled transaction per fetched document, so a crash
//! leaves either all of a document's items (with their index entries) or none.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};

use super::{
    add_sources, decode, encode, FeedState, IngestReport, PruneReport, Retention, StoreError, SCHEMA_VERSION,
};
use crate::item::{Item, ItemKey};

const SCHEMA_KEY: &[u8] = b"schema";

/// How long `open` waits for a lock that this process may be releasing.
const LOCK_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// A handle to the open store; cheap to clone (sled trees are `Arc`s).
#[derive(Clone)]
pub struct SledStore {
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

impl SledStore {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        // sled's background threads let go of the file lock a moment after
        // the last handle in this process is dropped, so a store closed just
        // now may still look locked; give it a bounded grace period. Another
        // process holding the lock still fails, only later.
        let deadline = std::time::Instant::now() + LOCK_GRACE;
        let db = loop {
            match SledStore::open_db(path) {
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
        Ok(SledStore {
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

    /// Records whether a write worked, for [`SledStore::write_failure`].
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
        let result =
            (&self.items, &self.seen, &self.seen_by_date).transaction(|(items, seen, seen_by_date)| {
                let mut added = 0;
                for (key, first_seen) in records {
                    let k = key.as_str().as_bytes();
                    if items.get(k)?.is_some() || seen.get(k)?.is_some() {
                        continue;
                    }
                    seen.insert(k, &first_seen.to_be_bytes())?;
                    seen_by_date.insert(seen_key(*first_seen, k), &[])?;
                    added += 1;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(added)
            });
        self.noted(result.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        }))
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

#[cfg(test)]
mod tests {
    use super::*;
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
