//! The shared backend: PostgreSQL, for several `feedwire run` nodes on one
//! database (`[storage] backend = "postgres"`).
//!
//! Tables (created on connect, under an advisory lock so that nodes starting
//! together do not race):
//! - `items`: key (canonical link, `COLLATE "C"` so it sorts bytewise as in
//!   sled) → date, first seen, postcard record without its sources, and
//!   `print`, the fingerprint of its first feed's text
//!   (`parse::fingerprint`; NULL for a row written before the column was
//!   added on connect, or by a build without it, which still reads and
//!   writes the table: the first sighting records it and revises nothing). The
//!   primary key is the global dedup: `INSERT … ON CONFLICT DO NOTHING`
//!   makes concurrent ingest of one story by two nodes store it once.
//! - `item_sources`: (key, feed URL) unique, ordered by a sequence, so both
//!   nodes' sources are kept and every node reads them in the same order.
//! - `seen`: pruned items' keys, so they never come back as new.
//! - `feeds`: feed URL → JSON [`FeedState`].
//! - `leases`: the fleet's schedule. A node polls a feed only after taking
//!   its lease (`FOR UPDATE SKIP LOCKED`), which it gets only when the feed
//!   is due and no live lease exists; releasing stores the next due time. A
//!   node that dies keeps its leases until they expire. A poll's database
//!   work is few round trips (on separate machines each is a network
//!   latency, and they are what caps a fleet): the claim reads the feed's
//!   state, the release writes it, the host slot renews the lease, each in
//!   the same statement, and these statements, like the ingest's, are
//!   prepared once per connection ([`prepared`]).
//! - `host_slots`: up to `per_host` rows per host (made on first need),
//!   leased the same way, so that politeness holds across the fleet.
//! - `nodes`: heartbeats. `feedwire_meta`: the schema version.
//! - `fulltext`: item key → JSON [`FullTextRecord`] (`full_text = true`),
//!   with `hold_until` set while the item is held back from outputs and
//!   `pending` until its page was fetched; the key is the claim, so a page
//!   is fetched once by the whole fleet. `fulltext_feeds`: feed URL → JSON
//!   [`FullTextStats`]. `fulltext_sites`: host → JSON [`SiteBackoff`] of
//!   sites whose pages keep failing.
//! - Sequence `feedwire_changes`: bumped after every commit that changes
//!   what outputs show; nodes poll it to re-render.
//!
//! The rest of the crate calls the store synchronously (as it always called
//! sled). The async client runs on a small runtime of its own; a call hands
//! its future over and waits. This never nests runtimes (which would panic)
//! and never blocks the daemon's runtime on the database for longer than
//! one bounded round trip. A probe turns every second; while the database is
//! unreachable, calls fail at once with [`StoreError::Unavailable`] instead
//! of each waiting for a timeout.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::future::{try_join, try_join4};
use tokio_postgres::NoTls;
use tracing::{error, info};

use super::{
    decode, encode, Claim, FeedState, FullTextRecord, FullTextState, FullTextStats, HostSlot, IngestReport,
    PruneReport, Retention, SiteBackoff, StoreError, SCHEMA_VERSION,
};
use crate::item::{Item, ItemKey, Revision, Sighting, Source, StoredPrint};

/// Connection pool settings (`[storage] pool_size`, `pool_timeout`,
/// `connect_timeout`, `query_timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections per node at most.
    pub size: usize,
    /// How long a call waits for a free connection.
    pub wait: Duration,
    /// How long opening a connection may take.
    pub connect: Duration,
    /// How long one call may take in all.
    pub query: Duration,
}

impl Default for PoolSettings {
    fn default() -> PoolSettings {
        PoolSettings {
            size: 8,
            wait: Duration::from_secs(5),
            connect: Duration::from_secs(5),
            query: Duration::from_secs(30),
        }
    }
}

impl From<&crate::config::StorageConfig> for PoolSettings {
    fn from(s: &crate::config::StorageConfig) -> PoolSettings {
        PoolSettings {
            size: s.pool_size,
            wait: s.pool_timeout,
            connect: s.connect_timeout,
            query: s.query_timeout,
        }
    }
}

/// One fleet node as `/fleet.json` and the status page show it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStatus {
    pub name: String,
    /// Unix seconds of its first heartbeat since it started.
    pub started: i64,
    /// Unix seconds of its last heartbeat.
    pub heartbeat: i64,
}

pub use crate::config::redact_url as redact;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS feedwire_meta (key text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    key text COLLATE "C" PRIMARY KEY,
    date bigint NOT NULL,
    first_seen bigint NOT NULL,
    record bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS items_by_date ON items (date, key);
CREATE TABLE IF NOT EXISTS item_sources (
    seq bigserial PRIMARY KEY,
    key text COLLATE "C" NOT NULL REFERENCES items (key) ON DELETE CASCADE,
    feed_url text NOT NULL,
    source bytea NOT NULL,
    UNIQUE (key, feed_url)
);
CREATE INDEX IF NOT EXISTS item_sources_by_feed ON item_sources (feed_url);
CREATE TABLE IF NOT EXISTS seen (key text COLLATE "C" PRIMARY KEY, first_seen bigint NOT NULL);
CREATE INDEX IF NOT EXISTS seen_by_date ON seen (first_seen, key);
CREATE TABLE IF NOT EXISTS feeds (url text PRIMARY KEY, state text NOT NULL);
CREATE TABLE IF NOT EXISTS leases (
    url text PRIMARY KEY,
    next_due bigint NOT NULL,
    holder text,
    expires bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS host_slots (
    host text NOT NULL,
    slot int NOT NULL,
    holder text,
    expires bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (host, slot)
);
CREATE TABLE IF NOT EXISTS nodes (name text PRIMARY KEY, started bigint NOT NULL, heartbeat bigint NOT NULL);
CREATE SEQUENCE IF NOT EXISTS feedwire_changes;
CREATE TABLE IF NOT EXISTS fulltext (
    key text COLLATE "C" PRIMARY KEY,
    feed_url text NOT NULL,
    record text NOT NULL,
    hold_until bigint,
    pending boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS fulltext_held ON fulltext (hold_until) WHERE hold_until IS NOT NULL;
CREATE INDEX IF NOT EXISTS fulltext_pending ON fulltext (key) WHERE pending;
CREATE TABLE IF NOT EXISTS fulltext_feeds (url text PRIMARY KEY, stats text NOT NULL);
CREATE TABLE IF NOT EXISTS fulltext_sites (host text PRIMARY KEY, backoff text NOT NULL);
DO $$ BEGIN
    -- Asked first: ALTER TABLE locks the table even when the column is there.
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = 'items' AND column_name = 'print') THEN
        ALTER TABLE items ADD COLUMN print bigint;
    END IF;
END $$;
"#;

/// The database's clock, in Unix seconds. Lease and slot expiry are set and
/// compared on it, so that nodes with skewed clocks still agree on when a
/// lease ends. (Due times stay on the nodes' clocks: they only shift a
/// poll by the skew.) A macro, so that statements using it stay constant
/// strings (`concat!`) for the prepared-statement cache.
macro_rules! db_now {
    () => {
        "extract(epoch FROM clock_timestamp())::int8"
    };
}

/// Arbitrary, fixed: serialises schema creation between nodes.
const SCHEMA_LOCK: i64 = 0x6665_6564_7769_7265; // "feedwire"

/// Ingests hold it shared, pruning exclusively: an item pruned (moved to
/// `seen`) while another node ingests the same key could otherwise be
/// inserted again, as the ingest's check of `seen` ran before the prune
/// committed. Ingests still run side by side.
const PRUNE_LOCK: i64 = 0x6665_6564_7072_756e; // "fedprun"

/// The ingest's item insert: a key pruned into `seen` never comes back,
/// and the first of a key's entries in one document is the one stored.
const INSERT_ITEMS: &str = "INSERT INTO items (key, date, first_seen, record, print)
     SELECT DISTINCT ON (u.key) u.key, u.date, u.first_seen, u.record, u.print
     FROM unnest($1::text[], $2::int8[], $3::int8[], $4::bytea[], $5::int8[]) WITH ORDINALITY
          AS u(key, date, first_seen, record, print, ord)
     WHERE NOT EXISTS (SELECT 1 FROM seen s WHERE s.key = u.key)
     ORDER BY u.key, u.ord
     ON CONFLICT (key) DO NOTHING
     RETURNING key";

/// The ingest's source insert, a statement after [`INSERT_ITEMS`]: its own
/// snapshot sees an item another node committed meanwhile, whose insert
/// this one skipped, so that both nodes' sources are kept.
const INSERT_SOURCES: &str = "INSERT INTO item_sources (key, feed_url, source)
     SELECT u.key, u.feed_url, u.source
     FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY
          AS u(key, feed_url, source, ord)
     WHERE EXISTS (SELECT 1 FROM items i WHERE i.key = u.key)
     ORDER BY u.ord
     ON CONFLICT (key, feed_url) DO NOTHING
     RETURNING key";

/// A handle to the shared store; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    query_timeout: Duration,
    /// Set by the probe; false while the database cannot be reached.
    reachable: Arc<AtomicBool>,
    write_failure: Mutex<Option<String>>,
    /// For messages: the URL without its password.
    name: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime;
        // the pool's connections need nothing more than being dropped.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn db_error(e: tokio_postgres::Error) -> StoreError {
    if e.as_db_error().is_some() {
        StoreError::Database(e.to_string())
    } else {
        // Closed connections, I/O, timeouts: the database is not there.
        StoreError::Unavailable(e.to_string())
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db_error(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

type Client = deadpool_postgres::Object;

/// The statement `sql` prepared on this connection, from the connection's
/// cache after the first use. A statement given as text is prepared, run
/// and closed each time: two round trips where one does. The per-poll,
/// per-document and per-second statements go through this; `sql` must be a
/// constant.
async fn prepared(c: &Client, sql: &str) -> Result<tokio_postgres::Statement, StoreError> {
    c.prepare_cached(sql).await.map_err(db_error)
}

impl PgStore {
    /// Connects, creates the tables if needed and checks the schema version.
    pub fn connect(url: &str, settings: &PoolSettings) -> Result<PgStore, StoreError> {
        let name = redact(url);
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("invalid database URL {name}: {e}")))?;
        config.connect_timeout(settings.connect);
        config.application_name("feedwire");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("feedwire-db")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("starting the database runtime: {e}")))?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.size.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(settings.wait))
            .create_timeout(Some(settings.connect))
            .recycle_timeout(Some(settings.connect))
            .build()
            .map_err(|e| StoreError::Database(format!("building the connection pool: {e}")))?;
        let store = PgStore {
            inner: Arc::new(Inner {
                runtime: Some(runtime),
                pool,
                query_timeout: settings.query,
                reachable: Arc::new(AtomicBool::new(true)),
                write_failure: Mutex::new(None),
                name: name.clone(),
            }),
        };
        let found = store.call(|c| async move {
            let mut c = c;
            let tx = c.transaction().await.map_err(db_error)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
                .await
                .map_err(db_error)?;
            tx.batch_execute(SCHEMA).await.map_err(db_error)?;
            tx.execute(
                "INSERT INTO feedwire_meta (key, value) VALUES ('schema', $1) ON CONFLICT (key) DO NOTHING",
                &[&i64::from(SCHEMA_VERSION)],
            )
            .await
            .map_err(db_error)?;
            let found: i64 = tx
                .query_one("SELECT value FROM feedwire_meta WHERE key = 'schema'", &[])
                .await
                .map_err(db_error)?
                .get(0);
            tx.commit().await.map_err(db_error)?;
            Ok(found)
        })?;
        if found != i64::from(SCHEMA_VERSION) {
            return Err(StoreError::UnknownSchema {
                path: PathBuf::from(name),
                found: u32::try_from(found).unwrap_or(u32::MAX),
                reads: SCHEMA_VERSION,
            });
        }
        store.spawn_probe();
        Ok(store)
    }

    /// Runs `f` with a pooled connection on the store's runtime and waits
    /// for its result, bounded by the query timeout.
    fn call<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Client) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        if !self.inner.reachable.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable(format!(
                "{} is unreachable",
                self.inner.name
            )));
        }
        let pool = self.inner.pool.clone();
        let limit = self.inner.query_timeout;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let runtime = self
            .inner
            .runtime
            .as_ref()
            .expect("runtime lives as long as the store");
        runtime.spawn(async move {
            let work = async {
                let client = pool.get().await.map_err(pool_error)?;
                f(client).await
            };
            let result = match tokio::time::timeout(limit, work).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Unavailable(format!(
                    "no answer within {}",
                    humantime::format_duration(limit)
                ))),
            };
            let _ = tx.send(result);
        });
        rx.recv()
            .unwrap_or_else(|_| Err(StoreError::Unavailable("database task ended".into())))
    }

    /// Checks every second that the database answers; logs once when it
    /// stops and once when it is back.
    fn spawn_probe(&self) {
        let pool = self.inner.pool.clone();
        let reachable = self.inner.reachable.clone();
        let name = self.inner.name.clone();
        let weak = Arc::downgrade(&self.inner);
        let runtime = self
            .inner
            .runtime
            .as_ref()
            .expect("runtime lives as long as the store");
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if weak.strong_count() == 0 {
                    return;
                }
                let probe = async {
                    let c = pool.get().await.map_err(pool_error)?;
                    c.simple_query("SELECT 1").await.map_err(db_error)?;
                    Ok::<_, StoreError>(())
                };
                let ok = match tokio::time::timeout(Duration::from_secs(3), probe).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("no answer within 3s".to_owned()),
                };
                let was = reachable.swap(ok.is_ok(), Ordering::Relaxed);
                match (was, ok) {
                    (true, Err(e)) => {
                        error!(database = %name, error = %e, "Database unreachable: serving the last documents, polling nothing until it is back.")
                    }
                    (false, Ok(())) => info!(database = %name, "Database reachable again; resuming."),
                    _ => {}
                }
            }
        });
    }

    /// False while the probe cannot reach the database.
    pub fn reachable(&self) -> bool {
        self.inner.reachable.load(Ordering::Relaxed)
    }

    fn noted<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let mut failure = self.inner.write_failure.lock().expect("lock poisoned");
        *failure = result.as_ref().err().map(|e| e.to_string());
        result
    }

    pub fn write_failure(&self) -> Option<String> {
        self.inner.write_failure.lock().expect("lock poisoned").clone()
    }

    /// Stores one document's items in one transaction. The item insert and
    /// the source insert both skip conflicts, so two nodes ingesting the
    /// same story at once store it once, with both sources.
    pub fn ingest(&self, items: &[Item]) -> Result<IngestReport, StoreError> {
        self.ingest_document(items, &[])
    }

    /// [`Self::ingest`] with sightings: each is one `item_sources` row to
    /// add (in the same statement as the items' sources), no record.
    pub fn ingest_document(
        &self,
        items: &[Item],
        sightings: &[Sighting],
    ) -> Result<IngestReport, StoreError> {
        self.ingest_parsed(items, sightings, &[]).map(|i| i.report)
    }

    /// [`Self::ingest_document`] with the document's revisions
    /// ([`super::Store::ingest_parsed`]), in the same transaction: the rows
    /// they revise are locked, compared and rewritten there.
    pub fn ingest_parsed(
        &self,
        items: &[Item],
        sightings: &[Sighting],
        revisions: &[Revision],
    ) -> Result<super::Ingested, StoreError> {
        if items.is_empty() && sightings.is_empty() && revisions.is_empty() {
            return Ok(super::Ingested::default());
        }
        let revisions = revisions.to_vec();
        let mut prints = Vec::with_capacity(items.len());
        let mut keys = Vec::with_capacity(items.len());
        let mut dates = Vec::with_capacity(items.len());
        let mut first_seen = Vec::with_capacity(items.len());
        let mut records = Vec::with_capacity(items.len());
        let (mut s_keys, mut s_feeds, mut s_records) = (Vec::new(), Vec::new(), Vec::new());
        for item in items {
            let key = item.key.as_str().to_owned();
            for s in &item.sources {
                s_keys.push(key.clone());
                s_feeds.push(s.feed_url.clone());
                s_records.push(postcard::to_stdvec(s).expect("sources serialise"));
            }
            let mut bare = item.clone();
            bare.sources.clear();
            records.push(encode(&bare));
            dates.push(item.date);
            first_seen.push(item.first_seen);
            // Stored as the bits of a bigint.
            prints.push(item.fingerprint.map(|p| p as i64));
            keys.push(key);
        }
        for sighting in sightings {
            s_keys.push(sighting.key.as_str().to_owned());
            s_feeds.push(sighting.source.feed_url.clone());
            s_records.push(postcard::to_stdvec(&sighting.source).expect("sources serialise"));
        }
        let total = items.len() + sightings.len();
        let result = self.call(move |mut c| async move {
            // Prepared before the transaction opens: inside it, a first
            // use would add its parse to the time the prune lock is held.
            let lock = prepared(&c, "SELECT pg_advisory_xact_lock_shared($1)").await?;
            let insert_items = prepared(&c, INSERT_ITEMS).await?;
            let insert_sources = prepared(&c, INSERT_SOURCES).await?;
            let revise_with = match revisions.is_empty() {
                true => None,
                false => Some(Revise::prepare(&c).await?),
            };
            let r_keys: Vec<&str> = revisions.iter().map(|r| r.key.as_str()).collect();
            let r_feeds: Vec<&str> = revisions.iter().map(|r| r.feed_url.as_str()).collect();
            let tx = c.transaction().await.map_err(db_error)?;
            // Sent together, each without waiting for the answer before
            // (tokio-postgres sends a query when it is first polled, and
            // `try_join` polls in order): the server still runs them one
            // after another, each with its own snapshot, so only the waits
            // change: one instead of three (five with revisions).
            let read_revised = async {
                match &revise_with {
                    None => Ok(None),
                    Some(s) => try_join(
                        tx.query(&s.lock_rows, &[&r_keys, &r_feeds]),
                        tx.query(&s.full_text, &[&r_keys]),
                    )
                    .await
                    .map(Some),
                }
            };
            let (_, new, gained, read) = try_join4(
                tx.execute(&lock, &[&PRUNE_LOCK]),
                tx.query(&insert_items, &[&keys, &dates, &first_seen, &records, &prints]),
                tx.query(&insert_sources, &[&s_keys, &s_feeds, &s_records]),
                read_revised,
            )
            .await
            .map_err(db_error)?;
            let new: Vec<String> = new.iter().map(|r| r.get(0)).collect();
            let gained: Vec<String> = gained.iter().map(|r| r.get(0)).collect();
            let revised = match (&revise_with, read) {
                (Some(statements), Some((locked, full_text))) => {
                    revise(&tx, statements, &revisions, locked, full_text).await?
                }
                _ => Vec::new(),
            };
            tx.commit().await.map_err(db_error)?;
            let new_set: std::collections::HashSet<&String> = new.iter().collect();
            let merged: std::collections::HashSet<&String> =
                gained.iter().filter(|k| !new_set.contains(k)).collect();
            let report = IngestReport {
                new: new.len(),
                duplicate: total - new.len(),
                merged: merged.len(),
                revised: revised.len(),
            };
            if report.changed() {
                // After the commit, so that a node that sees the counter move
                // also sees the rows.
                bump_changes(&c).await?;
            }
            Ok(super::Ingested {
                report,
                claimed: Vec::new(),
                revised,
            })
        });
        self.noted(result)
    }

    pub fn prune(&self, now: i64, policy: &Retention, batch: usize) -> Result<PruneReport, StoreError> {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let cutoff = now.saturating_sub(secs(policy.max_age));
        let seen_cutoff = now.saturating_sub(secs(policy.seen_max_age));
        let max_items = i64::try_from(policy.max_items).unwrap_or(i64::MAX);
        let batch = i64::try_from(batch).unwrap_or(i64::MAX);
        let result = self.call(move |mut c| async move {
            let count: i64 = c
                .query_one("SELECT count(*) FROM items", &[])
                .await
                .map_err(db_error)?
                .get(0);
            let over = count.saturating_sub(max_items).max(0);
            let oldest = c
                .query(
                    "SELECT key, date FROM items ORDER BY date, key LIMIT $1",
                    &[&batch],
                )
                .await
                .map_err(db_error)?;
            let mut victims: Vec<String> = Vec::new();
            for row in &oldest {
                let date: i64 = row.get(1);
                if date >= cutoff && victims.len() as i64 >= over {
                    break;
                }
                victims.push(row.get(0));
            }
            let mut report = PruneReport {
                more: victims.len() as i64 >= batch,
                ..Default::default()
            };
            let tx = c.transaction().await.map_err(db_error)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PRUNE_LOCK])
                .await
                .map_err(db_error)?;
            report.items = tx
                .execute(
                    "WITH gone AS (DELETE FROM items WHERE key = ANY($1) RETURNING key, first_seen)
                     INSERT INTO seen (key, first_seen) SELECT key, first_seen FROM gone
                     ON CONFLICT (key) DO NOTHING",
                    &[&victims],
                )
                .await
                .map_err(db_error)? as usize;
            // The seen record keeps a pruned item from coming back as new.
            tx.execute("DELETE FROM fulltext WHERE key = ANY($1)", &[&victims])
                .await
                .map_err(db_error)?;
            let expired = tx
                .execute(
                    "DELETE FROM seen WHERE key IN
                       (SELECT key FROM seen WHERE first_seen < $1 ORDER BY first_seen, key LIMIT $2)",
                    &[&seen_cutoff, &batch],
                )
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            report.seen = expired as usize;
            if expired as i64 >= batch {
                report.more = true;
            }
            if report.items > 0 {
                bump_changes(&c).await?;
            }
            Ok(report)
        });
        self.noted(result)
    }

    pub fn seen_count(&self) -> usize {
        self.call(|c| async move {
            let n: i64 = c
                .query_one("SELECT count(*) FROM seen", &[])
                .await
                .map_err(db_error)?
                .get(0);
            Ok(n as usize)
        })
        .unwrap_or(0)
    }

    /// Every item, oldest first, a page at a time.
    pub fn for_each_item(&self, mut f: impl FnMut(Item) -> bool) -> Result<(), StoreError> {
        let mut after: Option<(i64, String)> = None;
        loop {
            let page = self.page(after.clone(), false, 500)?;
            let Some(last) = page.last() else { return Ok(()) };
            after = Some((last.date, last.key.as_str().to_owned()));
            for item in page {
                if !f(item) {
                    return Ok(());
                }
            }
        }
    }

    /// One page of items in date order (keyset pagination on (date, key)),
    /// with their sources.
    fn page(
        &self,
        after: Option<(i64, String)>,
        newest_first: bool,
        size: i64,
    ) -> Result<Vec<Item>, StoreError> {
        self.call(move |c| async move {
            let (date, key) = after.unwrap_or(if newest_first {
                (i64::MAX, "\u{10FFFF}".repeat(2))
            } else {
                (i64::MIN, String::new())
            });
            let sql = if newest_first {
                "SELECT key, record FROM items WHERE (date, key) < ($1, $2) ORDER BY date DESC, key DESC LIMIT $3"
            } else {
                "SELECT key, record FROM items WHERE (date, key) > ($1, $2) ORDER BY date, key LIMIT $3"
            };
            let rows = c.query(sql, &[&date, &key, &size]).await.map_err(db_error)?;
            with_sources(&c, rows).await
        })
    }

    pub fn for_each_seen(&self, mut f: impl FnMut(ItemKey, i64) -> bool) -> Result<(), StoreError> {
        let mut after = (i64::MIN, String::new());
        loop {
            let from = after.clone();
            let rows: Vec<(String, i64)> = self.call(move |c| async move {
                Ok(c.query(
                    "SELECT key, first_seen FROM seen WHERE (first_seen, key) > ($1, $2)
                     ORDER BY first_seen, key LIMIT 1000",
                    &[&from.0, &from.1],
                )
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
            })?;
            let Some(last) = rows.last() else { return Ok(()) };
            after = (last.1, last.0.clone());
            for (key, t) in rows {
                if !f(ItemKey::from_stored(key), t) {
                    return Ok(());
                }
            }
        }
    }

    pub fn import_seen(&self, records: &[(ItemKey, i64)]) -> Result<usize, StoreError> {
        let keys: Vec<String> = records.iter().map(|(k, _)| k.as_str().to_owned()).collect();
        let times: Vec<i64> = records.iter().map(|(_, t)| *t).collect();
        let result = self.call(move |c| async move {
            let n = c
                .execute(
                    "INSERT INTO seen (key, first_seen)
                     SELECT u.key, u.t FROM unnest($1::text[], $2::int8[]) AS u(key, t)
                     WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.key = u.key)
                     ON CONFLICT (key) DO NOTHING",
                    &[&keys, &times],
                )
                .await
                .map_err(db_error)?;
            Ok(n as usize)
        });
        self.noted(result)
    }

    pub fn recent(
        &self,
        limit: usize,
        scan_limit: usize,
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::with_capacity(limit.min(1024));
        let mut scanned = 0usize;
        let mut after = None;
        while out.len() < limit && scanned < scan_limit {
            let size = (scan_limit - scanned)
                .min((limit - out.len()).max(100) * 2)
                .min(2000);
            let page = self.page(after.take(), true, size as i64)?;
            let Some(last) = page.last() else { break };
            after = Some((last.date, last.key.as_str().to_owned()));
            scanned += page.len();
            for item in page {
                if out.len() >= limit {
                    break;
                }
                if keep(&item) {
                    out.push(item);
                }
            }
        }
        Ok(out)
    }

    /// [`Self::recent`] passing over the keys in `except`.
    pub fn recent_except(
        &self,
        limit: usize,
        scan_limit: usize,
        except: &std::collections::HashSet<ItemKey>,
        mut keep: impl FnMut(&Item) -> bool,
    ) -> Result<Vec<Item>, StoreError> {
        self.recent(limit, scan_limit, |item| {
            !except.contains(&item.key) && keep(item)
        })
    }

    pub fn knows(&self, key: &ItemKey, feed_url: &str) -> bool {
        let (key, feed) = (key.as_str().to_owned(), feed_url.to_owned());
        self.call(move |c| async move {
            Ok(c.query_one(
                "SELECT EXISTS (SELECT 1 FROM item_sources WHERE key = $1 AND feed_url = $2)
                     OR EXISTS (SELECT 1 FROM seen WHERE key = $1)",
                &[&key, &feed],
            )
            .await
            .map_err(db_error)?
            .get(0))
        })
        .unwrap_or(false)
    }

    /// [`super::Store::lookup`] in one query: whether the feed already
    /// brought the key (or it was pruned), else the item's date.
    pub fn lookup(&self, key: &ItemKey, feed_url: &str) -> Result<super::Lookup, StoreError> {
        let (key, feed) = (key.as_str().to_owned(), feed_url.to_owned());
        self.call(move |c| async move {
            let lookup = prepared(
                &c,
                "WITH k AS (
                     SELECT EXISTS (SELECT 1 FROM item_sources WHERE key = $1 AND feed_url = $2)
                         OR EXISTS (SELECT 1 FROM seen WHERE key = $1) AS known
                 )
                 SELECT k.known, i.date,
                        (SELECT feed_url FROM item_sources WHERE key = $1 ORDER BY seq LIMIT 1) = $2,
                        i.print
                 FROM k LEFT JOIN items i ON i.key = $1",
            )
            .await?;
            let row = c.query_one(&lookup, &[&key, &feed]).await.map_err(db_error)?;
            if row.get::<_, bool>(0) {
                return Ok(super::Lookup::Known {
                    date: row.get(1),
                    print: stored_print(row.get(2), row.get(3)),
                });
            }
            match row.get::<_, Option<i64>>(1) {
                Some(date) => Ok(super::Lookup::Elsewhere { date }),
                None => Ok(super::Lookup::Unknown),
            }
        })
    }

    pub fn keys_from(&self, feed_url: &str) -> Result<super::KeysFrom, StoreError> {
        let feed = feed_url.to_owned();
        self.call(move |c| async move {
            let keys = prepared(
                &c,
                "SELECT s.key, i.date,
                        NOT EXISTS (SELECT 1 FROM item_sources o WHERE o.key = s.key AND o.seq < s.seq),
                        i.print
                 FROM item_sources s JOIN items i ON i.key = s.key WHERE s.feed_url = $1",
            )
            .await?;
            Ok(c.query(&keys, &[&feed])
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| (r.get(0), (r.get(1), stored_print(r.get(2), r.get(3)))))
                .collect())
        })
    }

    pub fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        let key = key.as_str().to_owned();
        self.call(move |c| async move {
            let rows = c
                .query("SELECT key, record FROM items WHERE key = $1", &[&key])
                .await
                .map_err(db_error)?;
            Ok(with_sources(&c, rows).await?.pop())
        })
    }

    /// True when the key is stored or was pruned (in `seen`).
    pub fn contains(&self, key: &ItemKey) -> Result<bool, StoreError> {
        let key = key.as_str().to_owned();
        self.call(move |c| async move {
            let row = c
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM items WHERE key = $1)
                         OR EXISTS (SELECT 1 FROM seen WHERE key = $1)",
                    &[&key],
                )
                .await
                .map_err(db_error)?;
            Ok(row.get(0))
        })
    }

    pub fn item_count(&self) -> usize {
        self.call(|c| async move {
            let n: i64 = c
                .query_one("SELECT count(*) FROM items", &[])
                .await
                .map_err(db_error)?
                .get(0);
            Ok(n as usize)
        })
        .unwrap_or(0)
    }

    pub fn feed_state(&self, feed_url: &str) -> Result<Option<FeedState>, StoreError> {
        let url = feed_url.to_owned();
        let text: Option<String> = self.call(move |c| async move {
            let read = prepared(&c, "SELECT state FROM feeds WHERE url = $1").await?;
            Ok(c.query_opt(&read, &[&url])
                .await
                .map_err(db_error)?
                .map(|r| r.get(0)))
        })?;
        text.map(|t| parse_state(feed_url, &t)).transpose()
    }

    /// Calls `f` with every saved feed state, in URL order, until it returns
    /// false; a thousand rows a query.
    pub fn for_each_feed_state<T: serde::de::DeserializeOwned>(
        &self,
        mut f: impl FnMut(&str, T) -> bool,
    ) -> Result<(), StoreError> {
        let mut after = String::new();
        loop {
            let from = after.clone();
            let rows: Vec<(String, String)> = self.call(move |c| async move {
                Ok(c.query(
                    "SELECT url, state FROM feeds WHERE url > $1 ORDER BY url LIMIT 1000",
                    &[&from],
                )
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
            })?;
            let Some(last) = rows.last() else { return Ok(()) };
            after = last.0.clone();
            for (url, text) in rows {
                let state = serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("feed state of {url}: {e}")))?;
                if !f(&url, state) {
                    return Ok(());
                }
            }
        }
    }

    pub fn put_feed_state(&self, feed_url: &str, state: &FeedState) -> Result<(), StoreError> {
        let text = serde_json::to_string(state).expect("feed state serialises");
        let url = feed_url.to_owned();
        let result = self.call(move |c| async move {
            let write = prepared(
                &c,
                "INSERT INTO feeds (url, state) VALUES ($1, $2)
                 ON CONFLICT (url) DO UPDATE SET state = EXCLUDED.state",
            )
            .await?;
            c.execute(&write, &[&url, &text]).await.map_err(db_error)?;
            Ok(())
        });
        self.noted(result)
    }

    /// A commit is durable in PostgreSQL already.
    pub fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.call(|c| async move {
            let n: i64 = c
                .query_one(
                    "SELECT coalesce(sum(pg_total_relation_size(t::regclass)), 0)::int8
                     FROM unnest(ARRAY['items', 'item_sources', 'seen', 'feeds', 'leases']) AS t",
                    &[],
                )
                .await
                .map_err(db_error)?
                .get(0);
            Ok(n as u64)
        })
    }

    /// Takes the feed's lease when it is due and nobody holds a live one,
    /// and reads the feed's state with it: one statement, one round trip.
    /// `FOR UPDATE SKIP LOCKED`: a node that finds the row being claimed by
    /// another moves on instead of waiting. A feed without a lease row yet
    /// gets one, granted to this node (no node polled it, so it is due).
    ///
    /// The statement's parts share one snapshot, and the row it locks may
    /// be newer (READ COMMITTED re-checks a row another node changed since
    /// the snapshot): if that node released the lease in between (the due
    /// time moved), the state read with the snapshot may be older than the
    /// one it saved with the release, and is read again. A refusal reads
    /// the snapshot too: a row not there yet, or one due and free but
    /// locked, is another node's claim in flight, told as held for a lease.
    pub fn claim(&self, feed_url: &str, node: &str, now: i64, ttl: Duration) -> Result<Claim, StoreError> {
        const CLAIM: &str = concat!(
            "WITH fresh AS (
                 INSERT INTO leases (url, next_due, holder, expires) VALUES ($1, $4, $2, ",
            db_now!(),
            " + $3)
                 ON CONFLICT (url) DO NOTHING
                 RETURNING next_due
             ), taken AS (
                 UPDATE leases SET holder = $2, expires = ",
            db_now!(),
            " + $3
                 WHERE url = (SELECT url FROM leases
                              WHERE url = $1 AND next_due <= $4 AND (holder IS NULL OR expires <= ",
            db_now!(),
            ")
                              FOR UPDATE SKIP LOCKED)
                 RETURNING next_due
             ), seen AS (
                 SELECT next_due, holder, expires - ",
            db_now!(),
            " AS remaining FROM leases WHERE url = $1
             ), granted AS (
                 SELECT EXISTS (SELECT 1 FROM fresh) OR EXISTS (SELECT 1 FROM taken) AS yes
             )
             SELECT g.yes,
                    (SELECT next_due FROM taken) IS DISTINCT FROM (SELECT next_due FROM seen)
                        AND EXISTS (SELECT 1 FROM taken),
                    (SELECT next_due FROM seen),
                    (SELECT holder FROM seen),
                    (SELECT remaining FROM seen),
                    CASE WHEN g.yes THEN (SELECT state FROM feeds WHERE url = $1) END
             FROM granted g"
        );
        let (url, node) = (feed_url.to_owned(), node.to_owned());
        let ttl = ttl.as_secs().max(1) as i64;
        let row = self.call(move |c| async move {
            let claim = prepared(&c, CLAIM).await?;
            let row = c
                .query_one(&claim, &[&url, &node, &ttl, &now])
                .await
                .map_err(db_error)?;
            let (granted, moved): (bool, bool) = (row.get(0), row.get(1));
            let (next_due, holder, left): (Option<i64>, Option<String>, Option<i64>) =
                (row.get(2), row.get(3), row.get(4));
            let mut state: Option<String> = row.get(5);
            if granted && moved {
                let read = prepared(&c, "SELECT state FROM feeds WHERE url = $1").await?;
                state = c
                    .query_opt(&read, &[&url])
                    .await
                    .map_err(db_error)?
                    .map(|r| r.get(0));
            }
            Ok((granted, next_due, holder, left, state))
        })?;
        let (granted, next_due, holder, left, state) = row;
        if granted {
            let state = state.map(|t| parse_state(feed_url, &t)).transpose()?;
            return Ok(Claim::Granted(state.map(Box::new)));
        }
        // Told in this node's time.
        let held = |left: i64| Claim::Held(now + left);
        Ok(match (next_due, holder, left) {
            (Some(_), Some(_), Some(left)) if left > 0 => held(left),
            (Some(next_due), _, _) if next_due > now => Claim::NotDue(next_due),
            _ => held(ttl),
        })
    }

    /// Extends the lease if this node still holds it.
    pub fn renew(&self, feed_url: &str, node: &str, ttl: Duration) -> Result<bool, StoreError> {
        const RENEW: &str = concat!(
            "UPDATE leases SET expires = ",
            db_now!(),
            " + $3 WHERE url = $1 AND holder = $2"
        );
        let (url, node) = (feed_url.to_owned(), node.to_owned());
        let ttl = ttl.as_secs().max(1) as i64;
        self.call(move |c| async move {
            let renew = prepared(&c, RENEW).await?;
            Ok(c.execute(&renew, &[&url, &node, &ttl]).await.map_err(db_error)? == 1)
        })
    }

    /// Ends the lease and saves the state in one statement (so one
    /// transaction): the state is written only if this node still held
    /// the lease.
    pub fn release(
        &self,
        feed_url: &str,
        node: &str,
        next_due: i64,
        state: &FeedState,
    ) -> Result<bool, StoreError> {
        const RELEASE: &str = "WITH released AS (
                 UPDATE leases SET holder = NULL, expires = 0, next_due = $3
                 WHERE url = $1 AND holder = $2
                 RETURNING url
             )
             INSERT INTO feeds (url, state) SELECT url, $4 FROM released
             ON CONFLICT (url) DO UPDATE SET state = EXCLUDED.state";
        let text = serde_json::to_string(state).expect("feed state serialises");
        let (url, node) = (feed_url.to_owned(), node.to_owned());
        let result = self.call(move |c| async move {
            let release = prepared(&c, RELEASE).await?;
            Ok(c.execute(&release, &[&url, &node, &next_due, &text])
                .await
                .map_err(db_error)?
                == 1)
        });
        self.noted(result)
    }

    /// One statement: renews the feed lease (if given), then takes the
    /// lowest free slot below `per_host`, or creates the lowest missing
    /// one (slot rows are made on first need, not all up front), only if
    /// the lease is still ours. Two nodes creating one slot at once: one
    /// gets it, the other is told busy and asks again.
    pub fn take_host_slot(
        &self,
        host: &str,
        per_host: usize,
        holder: &str,
        ttl: Duration,
        lease: Option<(&str, &str)>,
    ) -> Result<HostSlot, StoreError> {
        const TAKE: &str = concat!(
            "WITH lease AS (
                 UPDATE leases SET expires = ",
            db_now!(),
            " + $4 WHERE url = $5 AND holder = $6 RETURNING url
             ), ours AS (
                 SELECT $5::text IS NULL OR EXISTS (SELECT 1 FROM lease) AS yes
             ), free AS (
                 UPDATE host_slots SET holder = $3, expires = ",
            db_now!(),
            " + $4
                 WHERE (host, slot) = (SELECT host, slot FROM host_slots
                                       WHERE host = $1 AND slot < $2 AND (holder IS NULL OR expires <= ",
            db_now!(),
            ")
                                         AND (SELECT yes FROM ours)
                                       ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED)
                 RETURNING slot
             ), added AS (
                 INSERT INTO host_slots (host, slot, holder, expires)
                 SELECT $1, g, $3, ",
            db_now!(),
            " + $4 FROM generate_series(0, $2 - 1) AS g
                 WHERE (SELECT yes FROM ours) AND NOT EXISTS (SELECT 1 FROM free)
                   AND NOT EXISTS (SELECT 1 FROM host_slots h WHERE h.host = $1 AND h.slot = g)
                 ORDER BY g LIMIT 1
                 ON CONFLICT (host, slot) DO NOTHING
                 RETURNING slot
             )
             SELECT (SELECT yes FROM ours), coalesce((SELECT slot FROM free), (SELECT slot FROM added))"
        );
        let (host, holder) = (host.to_owned(), holder.to_owned());
        let (url, node) = match lease {
            Some((url, node)) => (Some(url.to_owned()), Some(node.to_owned())),
            None => (None, None),
        };
        let slots = i32::try_from(per_host).unwrap_or(i32::MAX);
        let ttl = ttl.as_secs().max(1) as i64;
        self.call(move |c| async move {
            let take = prepared(&c, TAKE).await?;
            let row = c
                .query_one(&take, &[&host, &slots, &holder, &ttl, &url, &node])
                .await
                .map_err(db_error)?;
            let (ours, slot): (bool, Option<i32>) = (row.get(0), row.get(1));
            Ok(match slot {
                _ if !ours => HostSlot::LeaseLost,
                Some(slot) => HostSlot::Taken(slot as u32),
                None => HostSlot::Busy,
            })
        })
    }

    pub fn free_host_slot(&self, host: &str, slot: u32, holder: &str) -> Result<(), StoreError> {
        let (host, holder) = (host.to_owned(), holder.to_owned());
        let slot = slot as i32;
        self.call(move |c| async move {
            let free = prepared(
                &c,
                "UPDATE host_slots SET holder = NULL, expires = 0 WHERE host = $1 AND slot = $2 AND holder = $3",
            )
            .await?;
            c.execute(&free, &[&host, &slot, &holder]).await.map_err(db_error)?;
            Ok(())
        })
    }

    /// A fleet node's second, in one statement: records that `node` is
    /// alive at `now` (and, when `started`, that it (re)started then),
    /// drops nodes gone for a week, and reads the change counter.
    pub fn fleet_tick(&self, node: &str, now: i64, started: bool) -> Result<i64, StoreError> {
        const TICK: &str = "WITH beat AS (
                 INSERT INTO nodes (name, started, heartbeat) VALUES ($1, $2, $2)
                 ON CONFLICT (name) DO UPDATE SET heartbeat = EXCLUDED.heartbeat,
                     started = CASE WHEN $3 THEN EXCLUDED.started ELSE nodes.started END
             ), gone AS (
                 DELETE FROM nodes WHERE heartbeat < $2 - 604800 AND name <> $1
             )
             SELECT last_value + (CASE WHEN is_called THEN 1 ELSE 0 END) FROM feedwire_changes";
        let node = node.to_owned();
        self.call(move |c| async move {
            let tick = prepared(&c, TICK).await?;
            Ok(c.query_one(&tick, &[&node, &now, &started])
                .await
                .map_err(db_error)?
                .get(0))
        })
    }

    pub fn heartbeat(&self, node: &str, now: i64) -> Result<(), StoreError> {
        self.fleet_tick(node, now, false).map(drop)
    }

    /// Marks `node` as (re)started at `now`.
    pub fn node_started(&self, node: &str, now: i64) -> Result<(), StoreError> {
        self.fleet_tick(node, now, true).map(drop)
    }

    pub fn nodes(&self) -> Result<Vec<NodeStatus>, StoreError> {
        self.call(|c| async move {
            Ok(
                c.query("SELECT name, started, heartbeat FROM nodes ORDER BY name", &[])
                    .await
                    .map_err(db_error)?
                    .iter()
                    .map(|r| NodeStatus {
                        name: r.get(0),
                        started: r.get(1),
                        heartbeat: r.get(2),
                    })
                    .collect(),
            )
        })
    }

    // Full-text records (`full_text = true`): the same behaviour as sled's
    // (see `store::sled`), kept in the shared tables so that no node of a
    // fleet fetches a page another one fetched.

    pub fn claim_full_text(
        &self,
        key: &ItemKey,
        feed_url: &str,
        hold_until: i64,
    ) -> Result<bool, StoreError> {
        let record = serde_json::to_string(&FullTextRecord {
            feed_url: feed_url.to_owned(),
            state: FullTextState::Pending,
            hold_until,
            held: true,
            released: false,
            error: None,
        })
        .expect("records serialise");
        let (key, feed_url) = (key.as_str().to_owned(), feed_url.to_owned());
        let result = self.call(move |c| async move {
            let n = c
                .execute(
                    "INSERT INTO fulltext (key, feed_url, record, hold_until, pending)
                     VALUES ($1, $2, $3, $4, true) ON CONFLICT (key) DO NOTHING",
                    &[&key, &feed_url, &record, &hold_until],
                )
                .await
                .map_err(db_error)?;
            Ok(n == 1)
        });
        self.noted(result)
    }

    pub fn full_text(&self, key: &ItemKey) -> Result<Option<FullTextRecord>, StoreError> {
        let key = key.as_str().to_owned();
        let text: Option<String> = self.call(move |c| async move {
            Ok(c.query_opt("SELECT record FROM fulltext WHERE key = $1", &[&key])
                .await
                .map_err(db_error)?
                .map(|r| r.get(0)))
        })?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("full-text record: {e}")))
        })
        .transpose()
    }

    pub fn pending_full_text(&self) -> Result<Vec<(ItemKey, FullTextRecord)>, StoreError> {
        self.pending_full_text_after(None, usize::MAX)
    }

    /// At most `limit` pending claims after `after`, in key order.
    pub fn pending_full_text_after(
        &self,
        after: Option<&ItemKey>,
        limit: usize,
    ) -> Result<Vec<(ItemKey, FullTextRecord)>, StoreError> {
        let after = after.map(|k| k.as_str().to_owned()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, String)> = self.call(move |c| async move {
            Ok(c.query(
                "SELECT key, record FROM fulltext WHERE pending AND key > $1 ORDER BY key LIMIT $2",
                &[&after, &limit],
            )
            .await
            .map_err(db_error)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, t)| {
                serde_json::from_str(&t)
                    .ok()
                    .map(|r| (ItemKey::from_stored(k), r))
            })
            .collect())
    }

    pub fn full_text_held(&self) -> Result<std::collections::HashSet<ItemKey>, StoreError> {
        let keys: Vec<String> = self.call(|c| async move {
            Ok(
                c.query("SELECT key FROM fulltext WHERE hold_until IS NOT NULL", &[])
                    .await
                    .map_err(db_error)?
                    .iter()
                    .map(|r| r.get(0))
                    .collect(),
            )
        })?;
        Ok(keys.into_iter().map(ItemKey::from_stored).collect())
    }

    pub fn release_expired_full_text(&self, now: i64) -> Result<usize, StoreError> {
        // Every node asks every second, mostly to hear "none".
        let due: Vec<String> = self.call(move |c| async move {
            let due = prepared(
                &c,
                "SELECT key FROM fulltext WHERE hold_until IS NOT NULL AND hold_until <= $1",
            )
            .await?;
            Ok(c.query(&due, &[&now])
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })?;
        let mut released = 0;
        for key in due {
            if self.release_hold(&ItemKey::from_stored(key), true)? {
                released += 1;
            }
        }
        Ok(released)
    }

    pub fn release_full_text(&self, key: &ItemKey, fallback: bool) -> Result<(), StoreError> {
        self.release_hold(key, fallback).map(|_| ())
    }

    /// Ends a hold; false when the item was not held (any more: another
    /// node may have released it first).
    fn release_hold(&self, key: &ItemKey, fallback: bool) -> Result<bool, StoreError> {
        let key = key.as_str().to_owned();
        let result = self.call(move |mut c| async move {
            let tx = c.transaction().await.map_err(db_error)?;
            let Some(row) = tx
                .query_opt(
                    "SELECT record FROM fulltext WHERE key = $1 AND hold_until IS NOT NULL FOR UPDATE",
                    &[&key],
                )
                .await
                .map_err(db_error)?
            else {
                return Ok(false);
            };
            let text: String = row.get(0);
            let mut record: FullTextRecord = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("full-text record: {e}")))?;
            record.held = false;
            record.released = true;
            let text = serde_json::to_string(&record).expect("records serialise");
            tx.execute(
                "UPDATE fulltext SET record = $2, hold_until = NULL WHERE key = $1",
                &[&key, &text],
            )
            .await
            .map_err(db_error)?;
            if fallback {
                bump_full_text(&tx, &record.feed_url, |s| s.fallback += 1).await?;
            }
            tx.commit().await.map_err(db_error)?;
            bump_changes(&c).await?;
            Ok(true)
        });
        self.noted(result)
    }

    pub fn finish_full_text(
        &self,
        key: &ItemKey,
        outcome: Result<String, String>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let key = key.as_str().to_owned();
        let result = self.call(move |mut c| async move {
            let tx = c.transaction().await.map_err(db_error)?;
            let Some(row) = tx
                .query_opt(
                    "SELECT record, hold_until IS NOT NULL FROM fulltext WHERE key = $1 FOR UPDATE",
                    &[&key],
                )
                .await
                .map_err(db_error)?
            else {
                return Ok(false);
            };
            let (text, was_held): (String, bool) = (row.get(0), row.get(1));
            let mut record: FullTextRecord = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("full-text record: {e}")))?;
            let mut changed = was_held;
            match outcome {
                Ok(html) => {
                    let stored = tx
                        .query_opt("SELECT record FROM items WHERE key = $1 FOR UPDATE", &[&key])
                        .await
                        .map_err(db_error)?;
                    if let Some(row) = stored {
                        let bytes: Vec<u8> = row.get(0);
                        let mut item = decode(&bytes)?;
                        if item.summary.is_none() {
                            item.summary = item.content.take();
                        }
                        item.content = Some(html);
                        tx.execute(
                            "UPDATE items SET record = $2 WHERE key = $1",
                            &[&key, &encode(&item)],
                        )
                        .await
                        .map_err(db_error)?;
                        changed = true;
                    }
                    record.state = FullTextState::Extracted;
                    record.error = None;
                    bump_full_text(&tx, &record.feed_url, |s| s.extracted += 1).await?;
                }
                Err(error) => {
                    record.state = FullTextState::Failed;
                    let e = error.clone();
                    bump_full_text(&tx, &record.feed_url, move |s| {
                        s.failed += 1;
                        s.last_error = Some(e.clone());
                        s.last_error_at = Some(now);
                    })
                    .await?;
                    record.error = Some(error);
                }
            }
            record.held = false;
            let text = serde_json::to_string(&record).expect("records serialise");
            tx.execute(
                "UPDATE fulltext SET record = $2, hold_until = NULL, pending = false WHERE key = $1",
                &[&key, &text],
            )
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            if changed {
                bump_changes(&c).await?;
            }
            Ok(changed)
        });
        self.noted(result)
    }

    pub fn unclaim_full_text(&self, key: &ItemKey) -> Result<(), StoreError> {
        let key = key.as_str().to_owned();
        let result = self.call(move |c| async move {
            c.execute("DELETE FROM fulltext WHERE key = $1", &[&key])
                .await
                .map_err(db_error)?;
            Ok(())
        });
        self.noted(result)
    }

    pub fn full_text_stats(&self, feed_url: &str) -> Result<FullTextStats, StoreError> {
        let url = feed_url.to_owned();
        let text: Option<String> = self.call(move |c| async move {
            Ok(
                c.query_opt("SELECT stats FROM fulltext_feeds WHERE url = $1", &[&url])
                    .await
                    .map_err(db_error)?
                    .map(|r| r.get(0)),
            )
        })?;
        Ok(text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    /// Sites whose pages keep failing, with when they may be tried again.
    pub fn site_backoffs(&self) -> Result<Vec<(String, SiteBackoff)>, StoreError> {
        let rows: Vec<(String, String)> = self.call(|c| async move {
            Ok(c.query("SELECT host, backoff FROM fulltext_sites", &[])
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(h, t)| serde_json::from_str(&t).ok().map(|b| (h, b)))
            .collect())
    }

    /// Records (or, with `None`, clears) a site's backoff.
    pub fn put_site_backoff(&self, host: &str, backoff: Option<&SiteBackoff>) -> Result<(), StoreError> {
        let host = host.to_owned();
        let text = backoff.map(|b| serde_json::to_string(b).expect("backoff serialises"));
        let result = self.call(move |c| async move {
            match text {
                Some(text) => c
                    .execute(
                        "INSERT INTO fulltext_sites (host, backoff) VALUES ($1, $2)
                         ON CONFLICT (host) DO UPDATE SET backoff = EXCLUDED.backoff",
                        &[&host, &text],
                    )
                    .await
                    .map_err(db_error)?,
                None => c
                    .execute("DELETE FROM fulltext_sites WHERE host = $1", &[&host])
                    .await
                    .map_err(db_error)?,
            };
            Ok(())
        });
        self.noted(result)
    }

    pub fn change_counter(&self) -> Result<i64, StoreError> {
        self.call(|c| async move {
            let read = prepared(
                &c,
                "SELECT last_value + (CASE WHEN is_called THEN 1 ELSE 0 END) FROM feedwire_changes",
            )
            .await?;
            Ok(c.query_one(&read, &[]).await.map_err(db_error)?.get(0))
        })
    }
}

fn parse_state(feed_url: &str, text: &str) -> Result<FeedState, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("feed state of {feed_url}: {e}")))
}

/// What a row tells a feed of the text it may revise: only its first
/// source's (`first`; NULL when the row is gone) is the record's.
fn stored_print(first: Option<bool>, print: Option<i64>) -> StoredPrint {
    match (first, print) {
        (Some(true), Some(p)) => StoredPrint::Is(p as u64),
        (Some(true), None) => StoredPrint::Missing,
        _ => StoredPrint::NotOurs,
    }
}

/// [`revise`]'s statements, prepared on the connection before its
/// transaction opens (as the ingest's are).
struct Revise {
    lock_rows: tokio_postgres::Statement,
    full_text: tokio_postgres::Statement,
    update: tokio_postgres::Statement,
}

impl Revise {
    async fn prepare(c: &Client) -> Result<Revise, StoreError> {
        Ok(Revise {
            lock_rows: prepared(
                c,
                "SELECT i.key, i.print, i.record FROM items i
                 JOIN unnest($1::text[], $2::text[]) AS u(key, feed_url) ON u.key = i.key
                 WHERE (SELECT s.feed_url FROM item_sources s WHERE s.key = i.key ORDER BY s.seq LIMIT 1) = u.feed_url
                 FOR UPDATE OF i",
            )
            .await?,
            full_text: prepared(c, "SELECT key, record FROM fulltext WHERE key = ANY($1)").await?,
            update: prepared(
                c,
                "UPDATE items i SET print = u.print, record = COALESCE(u.record, i.record)
                 FROM unnest($1::text[], $2::int8[], $3::bytea[]) AS u(key, print, record)
                 WHERE i.key = u.key",
            )
            .await?,
        })
    }
}

/// A document's revisions, inside its ingest transaction: the rows whose
/// first source is the revising feed are locked (`locked`, read by
/// [`Revise::lock_rows`] after the document's inserts), then each gets its
/// new fingerprint, and its record is rewritten when the text differs
/// ([`super::revised`]). A row without a fingerprint only gains one. The
/// full-text records (`full_text`) are read by the statement after the
/// lock, so that an article finished meanwhile (its finish locks the row
/// too) is kept. Returns the keys whose record was rewritten.
async fn revise(
    tx: &tokio_postgres::Transaction<'_>,
    statements: &Revise,
    revisions: &[Revision],
    locked: Vec<tokio_postgres::Row>,
    full_text: Vec<tokio_postgres::Row>,
) -> Result<Vec<ItemKey>, StoreError> {
    let mut stored: std::collections::HashMap<String, (Option<i64>, Vec<u8>)> = locked
        .into_iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let extracted: std::collections::HashSet<String> = full_text
        .iter()
        .filter(|r| {
            serde_json::from_str::<FullTextRecord>(r.get(1))
                .is_ok_and(|f| f.state == FullTextState::Extracted)
        })
        .map(|r| r.get(0))
        .collect();
    let (mut u_keys, mut u_prints, mut u_records) = (Vec::new(), Vec::new(), Vec::new());
    let mut revised = Vec::new();
    for revision in revisions {
        let k = revision.key.as_str();
        // Another feed's text, pruned, or a print this revision holds.
        let Some((print, record)) = stored.get_mut(k) else {
            continue;
        };
        let new_print = revision.print as i64;
        if *print == Some(new_print) {
            continue;
        }
        let mut rewritten: Option<Vec<u8>> = None;
        if let (Some(built), Some(_)) = (&revision.item, *print) {
            let old = decode(record)?;
            if let Some(new) = super::revised(&old, built, extracted.contains(k)) {
                let bytes = encode(&new);
                *record = bytes.clone();
                rewritten = Some(bytes);
                revised.push(revision.key.clone());
            }
        }
        *print = Some(new_print);
        u_keys.push(k);
        u_prints.push(new_print);
        u_records.push(rewritten);
    }
    if !u_keys.is_empty() {
        tx.execute(&statements.update, &[&u_keys, &u_prints, &u_records])
            .await
            .map_err(db_error)?;
    }
    Ok(revised)
}

async fn bump_changes(c: &Client) -> Result<(), StoreError> {
    let bump = prepared(c, "SELECT nextval('feedwire_changes')").await?;
    c.execute(&bump, &[]).await.map_err(db_error)?;
    Ok(())
}

/// Updates a feed's full-text counts inside `tx`.
async fn bump_full_text(
    tx: &deadpool_postgres::Transaction<'_>,
    feed_url: &str,
    f: impl FnOnce(&mut FullTextStats),
) -> Result<(), StoreError> {
    // The row exists before it is locked, so that two nodes counting a
    // feed's first outcome at once both count.
    tx.execute(
        "INSERT INTO fulltext_feeds (url, stats) VALUES ($1, '{}') ON CONFLICT (url) DO NOTHING",
        &[&feed_url],
    )
    .await
    .map_err(db_error)?;
    let row = tx
        .query_opt(
            "SELECT stats FROM fulltext_feeds WHERE url = $1 FOR UPDATE",
            &[&feed_url],
        )
        .await
        .map_err(db_error)?;
    let mut stats: FullTextStats = row
        .and_then(|r| serde_json::from_str(&r.get::<_, String>(0)).ok())
        .unwrap_or_default();
    f(&mut stats);
    let text = serde_json::to_string(&stats).expect("stats serialise");
    tx.execute(
        "UPDATE fulltext_feeds SET stats = $2 WHERE url = $1",
        &[&feed_url, &text],
    )
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Decodes `(key, record)` rows and attaches their sources in the order
/// they were added.
async fn with_sources(c: &Client, rows: Vec<tokio_postgres::Row>) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::with_capacity(rows.len());
    let mut keys = Vec::with_capacity(rows.len());
    for r in &rows {
        let key: String = r.get(0);
        let bytes: Vec<u8> = r.get(1);
        items.push(decode(&bytes)?);
        keys.push(key);
    }
    if items.is_empty() {
        return Ok(items);
    }
    let sources = c
        .query(
            "SELECT key, source FROM item_sources WHERE key = ANY($1) ORDER BY seq",
            &[&keys],
        )
        .await
        .map_err(db_error)?;
    let index: std::collections::HashMap<&str, usize> =
        keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    for r in &sources {
        let key: &str = r.get(0);
        let bytes: &[u8] = r.get(1);
        let source: Source = postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if let Some(&i) = index.get(key) {
            items[i].sources.push(source);
        }
    }
    Ok(items)
}
