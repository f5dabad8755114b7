//! The poller: when to fetch each feed, and what one fetch does.
//!
//! [`poll_feed`] is one feed's whole pipeline (fetch → parse → store → feed
//! state) and decides when the feed is due next; [`poll_all`] runs it for
//! every feed once (`feedwire poll-once`); [`run`] is the daemon's scheduler.
//!
//! Politeness rules, all per feed so that one feed never stalls another:
//! - never more often than the publisher asks (`<ttl>`, `sy:updatePeriod`,
//!   `Cache-Control: max-age`, `Expires`), within `[poll] min_interval` and
//!   `max_interval`; a little jitter so feeds do not synchronise;
//! - at most `[poll] per_host` fetches to one host and `concurrency` overall;
//! - 429/503 `Retry-After` honoured (capped at a day); other failures back off
//!   exponentially (capped at six hours) and reset on the first success;
//! - 410 Gone stops polling until a restart; 301/308 moves are followed and
//!   remembered, and the operator is told to update `feeds.toml`;
//! - a URL that answers with a web page is read for the feed its head links
//!   ([`crate::discover`]), which is fetched in the same poll (one hop, never
//!   a second page) and remembered as a permanent move is, until it fails
//!   (404, 410, a page) and the page is read again;
//! - when feeds on several hosts fail with network errors and none succeeds,
//!   it is our network that is down: failures are not counted as backoff;
//! - a document none of whose entries was in the poll before is a *gap*
//!   (entries published in between may have been missed): it is reported,
//!   and the feed is polled faster until polls overlap again ([`gaps`]);
//!   when its document names a next page (RFC 5005), the pages are read
//!   until they reach the entries of the poll before, within `[poll]
//!   gap_pages` ([`pages`]).
//!
//! In a fleet (a shared PostgreSQL store) every node runs this scheduler on
//! the same feeds.toml; before polling a feed a node takes its lease in the
//! store ([`Store::claim`]), so each due feed is fetched by one node, and
//! takes one of `per_host` fleet-wide slots for its host before fetching.
//! A node whose store is unreachable polls nothing.
//!
//! The ingest is a bounded pipeline: `concurrency` requests at once; a body
//! is read only in one of [`body_slots`] slots, held until it is parsed and
//! stored; parsing runs on at most one blocking thread per core, and a
//! parsed document waits for its commit without holding a core (the store
//! commits the documents waiting together). So memory holds a few
//! documents, not a round's worth, while the network stays busy.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use crate::clock::SharedClock;
use crate::config::{Config, FeedConfig};
use crate::fetch::{FetchError, Fetched, Fetcher, RetryAfter, Validators};
use crate::parse::{parse_feed_recalling, FeedRef, Known, Limits, Recall};
use crate::store::{Claim, FeedState, HostSlot, IngestReport, Lookup, Store};

pub mod gaps;
pub mod pages;
pub mod validators;

/// How a failed store write starts a feed's error (health checks look for it).
pub const STORE_FAILURE: &str = "store write failed";

/// Failures back off up to this long between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);
/// A `Retry-After` further away than this is capped to it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// During a network outage, feeds are retried this often (or their
/// interval, if shorter), without growing their backoff.
pub const OUTAGE_RETRY: Duration = Duration::from_secs(5 * 60);

/// What polling one feed did.
#[derive(Clone, Debug)]
pub struct FeedReport {
    pub url: String,
    pub name: String,
    pub outcome: Outcome,
    /// When the feed is due again; `None` when it is not polled again
    /// (410 Gone) until a restart.
    pub next_due: Option<DateTime<Utc>>,
    /// Wall time of the fetch, parse and store.
    pub duration: Duration,
    /// Body bytes received (0 for 304).
    pub bytes: u64,
    pub consecutive_failures: u32,
    /// The feed's site link (its channel link) differs from the one saved
    /// before this poll, its first poll included: the OPML and the story
    /// outlets read it, and the renderer re-reads every feed's site link
    /// only after such a poll (see [`Scheduler::site_links`]).
    pub site_changed: bool,
    /// This poll showed a gap: none of the document's entries was in the
    /// poll before ([`gaps`]).
    pub gap: bool,
    /// What the feed's next pages gave back after the gap ([`pages`]);
    /// `None` when there was no gap, or its document named no next page.
    pub recovery: Option<Box<pages::Recovery>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 304, or a 200 whose body is byte-identical to the last one parsed:
    /// nothing parsed, nothing stored.
    NotModified,
    /// A document was parsed and stored.
    Updated {
        items: usize,
        ingest: IngestReport,
        /// What parsing had to say about the document.
        notes: ParseNotes,
    },
    /// Fetch or parse failed; the message is the one shown to operators.
    Failed { error: String },
}

/// What a parsed document showed besides its items.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParseNotes {
    /// Entry markup but no entry understood: never a plain success.
    pub no_entries: Option<String>,
    /// Damage the recovery layer mended.
    pub repaired: Option<String>,
    /// Entries older than `[storage] retention`, not stored.
    pub too_old: usize,
    /// Entries beyond `[poll] max_items`, not read.
    pub over_limit: usize,
    /// Entries with no title, text or link, not stored.
    pub empty: usize,
    /// Entries read within the retention (and `max_items`), and how many
    /// of them this feed brought before: what [`gaps::judge`] reads.
    pub entries: usize,
    pub known: usize,
    /// The document's next page (RFC 5005), resolved, or for a WordPress
    /// document that names none its `?paged=2` ([`pages::wordpress_next`]):
    /// read after a gap.
    pub next_page: Option<Url>,
    /// `next_page` is WordPress's, not named by the document.
    pub next_page_guessed: bool,
}

/// Totals over a set of feed reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollReport {
    pub feeds_ok: usize,
    pub feeds_failed: usize,
    pub not_modified: usize,
    pub items_new: usize,
    pub items_duplicate: usize,
    /// Stored items whose feed revised their text (rewritten in place;
    /// counted among the duplicates too: they are not new).
    pub items_revised: usize,
    /// Feeds whose document shows entries but yielded none (counted in
    /// `feeds_ok` too: the fetch worked).
    pub feeds_no_entries: usize,
    /// Entries not stored by design, by reason (see [`ParseNotes`]): the
    /// summary names them, so that no entry is lost without a word.
    pub items_too_old: usize,
    pub items_over_limit: usize,
    pub items_empty: usize,
    /// Feeds whose document held none of the entries of the poll before
    /// (see [`gaps`]), their next pages' recovery included.
    pub feeds_gap: usize,
    /// Of them, feeds whose next pages reached the entries of the poll
    /// before: nothing was missed ([`pages`]).
    pub feeds_gap_closed: usize,
    /// Entries the next pages gave back after gaps, and the pages read
    /// (counted in `items_new` too, when new to the store).
    pub items_recovered: usize,
    pub pages_read: usize,
}

impl PollReport {
    /// Feeds with a gap their next pages did not close. A gap whose next
    /// pages reached the poll before lost nothing: it is not among the
    /// feeds that "may have missed" entries.
    pub fn open_gaps(&self) -> usize {
        self.feeds_gap.saturating_sub(self.feeds_gap_closed)
    }

    pub fn add(&mut self, r: &FeedReport) {
        self.feeds_gap += usize::from(r.gap);
        if let Some(rec) = &r.recovery {
            self.feeds_gap_closed += usize::from(rec.overlap);
            self.items_recovered += rec.entries;
            self.pages_read += rec.pages;
        }
        match &r.outcome {
            Outcome::NotModified => {
                self.feeds_ok += 1;
                self.not_modified += 1;
            }
            Outcome::Updated { ingest, notes, .. } => {
                self.feeds_ok += 1;
                self.feeds_no_entries += usize::from(notes.no_entries.is_some());
                self.items_new += ingest.new;
                self.items_duplicate += ingest.duplicate;
                self.items_revised += ingest.revised;
                self.items_too_old += notes.too_old;
                self.items_over_limit += notes.over_limit;
                self.items_empty += notes.empty;
            }
            Outcome::Failed { .. } => self.feeds_failed += 1,
        }
    }
}

impl std::fmt::Display for PollReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "feeds: {} ok ({} not modified), {} failed; items: {} new, {} duplicate",
            self.feeds_ok, self.not_modified, self.feeds_failed, self.items_new, self.items_duplicate
        )?;
        if self.items_revised > 0 {
            write!(f, ", {} revised", self.items_revised)?;
        }
        if self.feeds_no_entries > 0 {
            write!(
                f,
                "; {} feeds with entries none understood",
                self.feeds_no_entries
            )?;
        }
        let open = self.open_gaps();
        if open > 0 {
            write!(
                f,
                "; {open} feeds with a gap (none of their entries was in the poll before: entries may have been missed)"
            )?;
        }
        if self.feeds_gap_closed > 0 {
            write!(
                f,
                "; {} feeds with a gap closed by their next pages (nothing missed)",
                self.feeds_gap_closed
            )?;
        }
        if self.pages_read > 0 {
            write!(
                f,
                "; {} entries recovered from {} next pages after gaps",
                self.items_recovered, self.pages_read
            )?;
        }
        let not_stored = [
            (self.items_too_old, "older than the retention"),
            (self.items_over_limit, "beyond [poll] max_items"),
            (self.items_empty, "with no title, text or link"),
        ];
        let mut sep = "; not stored:";
        for (n, reason) in not_stored.into_iter().filter(|(n, _)| *n > 0) {
            write!(f, "{sep} {n} {reason}")?;
            sep = ",";
        }
        Ok(())
    }
}

/// Everything a poll needs; cheap to clone into tasks.
#[derive(Clone)]
pub struct PollContext {
    pub store: Store,
    pub fetcher: Fetcher,
    pub clock: SharedClock,
    /// `[poll] max_items`, and `[storage] retention`: entries dated older
    /// are neither built nor stored (the pruner would drop them again).
    limits: Limits,
    min_interval: Duration,
    max_interval: Duration,
    global: Arc<Semaphore>,
    /// Parse and store work at once: one per core, so a burst of changed
    /// documents queues instead of piling up threads and memory.
    cpu: Arc<Semaphore>,
    /// Bodies being read, waiting for a core, or being parsed and stored
    /// ([`body_slots`]). Fetching outruns parsing; without this bound a cold
    /// round held most of its documents in memory at once.
    bodies: Arc<Semaphore>,
    hosts: Arc<HostLimits>,
    outage: Arc<Mutex<OutageDetector>>,
    /// This node's name in a fleet (see [`crate::store::node_name`]).
    pub node: Arc<str>,
    /// How long a lease or fleet host slot lasts (`[storage] lease`).
    lease: Duration,
    /// `[poll] gap_pages`: next pages read after a gap at most ([`pages`]).
    gap_pages: usize,
    /// Where new items of `full_text` feeds are sent (the daemon's
    /// full-text task); `None` for one-shot polls.
    pub full_text: Option<crate::fulltext::JobSender>,
}

impl PollContext {
    pub fn new(store: Store, fetcher: Fetcher, clock: SharedClock, config: &Config) -> PollContext {
        let hosts: HashSet<&str> = config.feeds.iter().filter_map(|f| f.url.host_str()).collect();
        PollContext {
            store,
            fetcher,
            clock,
            limits: Limits {
                max_items: config.poll.max_items,
                retention: Some(config.storage.retention),
            },
            min_interval: config.poll.min_interval,
            max_interval: config.poll.max_interval.max(config.poll.min_interval),
            global: Arc::new(Semaphore::new(config.poll.concurrency)),
            cpu: Arc::new(Semaphore::new(cores())),
            bodies: Arc::new(Semaphore::new(body_slots())),
            hosts: Arc::new(HostLimits {
                per_host: config.poll.per_host,
                hosts: Mutex::default(),
            }),
            outage: Arc::new(Mutex::new(OutageDetector {
                hosts_total: hosts.len(),
                failing: HashSet::new(),
            })),
            node: crate::store::node_name().into(),
            lease: config.storage.lease,
            gap_pages: config.poll.gap_pages,
            full_text: None,
        }
    }

    /// Waits for a slot on the feed's host, then a global one. The host
    /// comes first so that feeds queued behind a busy host do not hold
    /// global slots other hosts could use.
    pub async fn permits(&self, url: &Url) -> (OwnedSemaphorePermit, OwnedSemaphorePermit) {
        let host = self.hosts.of(url.host_str().unwrap_or_default());
        let host = host.acquire_owned().await.expect("semaphores are never closed");
        let global = self
            .global
            .clone()
            .acquire_owned()
            .await
            .expect("semaphores are never closed");
        (host, global)
    }

    /// The body slots ([`body_slots`]): article pages (`fulltext`) are
    /// read in them too.
    pub fn body_gate(&self) -> &Arc<Semaphore> {
        &self.bodies
    }

    /// The per-core parse slots: article extraction (`fulltext`) takes them
    /// too.
    pub fn cpu_gate(&self) -> Arc<Semaphore> {
        self.cpu.clone()
    }

    /// In a fleet, one of the host's `per_host` slots in the store, so that
    /// politeness holds across nodes: waits (polling the store, with a
    /// little jitter) until one is free. Each ask renews this node's lease
    /// on `feed_url` in the same statement, and takes a slot only while the
    /// lease is still ours: a node waiting for a busy host keeps its lease,
    /// and the renewal right before fetching costs no round trip of its
    /// own. A slot whose node died frees itself after the lease.
    async fn fleet_slot(&self, url: &Url, feed_url: &str) -> Result<FleetSlot, NoSlot> {
        let host = url.host_str().unwrap_or_default();
        let holder = format!("{}/{url}", self.node);
        let mut wait = Duration::from_millis(20);
        loop {
            let (store, h, holder2, per_host, ttl, feed, node) = (
                self.store.clone(),
                host.to_owned(),
                holder.clone(),
                self.hosts.per_host,
                self.lease,
                feed_url.to_owned(),
                self.node.clone(),
            );
            let taken = tokio::task::spawn_blocking(move || {
                store.take_host_slot(&h, per_host, &holder2, ttl, Some((&feed, &node)))
            })
            .await
            .unwrap_or_else(|e| Err(crate::store::StoreError::Database(e.to_string())));
            match taken {
                Ok(HostSlot::Taken(slot)) => {
                    return Ok(FleetSlot {
                        store: self.store.clone(),
                        host: host.to_owned(),
                        slot,
                        holder,
                    })
                }
                Ok(HostSlot::Busy) => {
                    let jitter = fraction(&holder, wait.as_millis() as i64);
                    tokio::time::sleep(wait.mul_f64(1.0 + jitter)).await;
                    wait = (wait * 2).min(Duration::from_millis(250));
                }
                Ok(HostSlot::LeaseLost) => return Err(NoSlot::LeaseLost),
                Err(e) => return Err(NoSlot::Store(e)),
            }
        }
    }
}

/// Why a fleet poll got no host slot: it must not fetch.
enum NoSlot {
    /// The feed's lease expired and is another node's.
    LeaseLost,
    /// The store did not answer.
    Store(crate::store::StoreError),
}

/// A fleet-wide fetch slot on one host, given back when dropped.
struct FleetSlot {
    store: Store,
    host: String,
    slot: u32,
    holder: String,
}

impl Drop for FleetSlot {
    fn drop(&mut self) {
        let (store, host, holder, slot) = (
            self.store.clone(),
            std::mem::take(&mut self.host),
            std::mem::take(&mut self.holder),
            self.slot,
        );
        // The store call blocks; the slot expires by itself if this fails.
        let free = move || {
            if let Err(e) = store.free_host_slot(&host, slot, &holder) {
                debug!(%host, error = %e, "Cannot free a fleet host slot; it expires by itself.");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(free)),
            Err(_) => free(),
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// Fetched-but-unparsed bodies allowed in memory: two per core, so that
/// while one is parsed the next is already read (on a slow link, being
/// read) and no core waits for the network. The `[poll] concurrency`
/// requests still go out and wait for their answers in parallel; only the
/// reading of bodies waits for a slot.
fn body_slots() -> usize {
    2 * cores()
}

/// One semaphore per host, created on first use.
struct HostLimits {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostLimits {
    fn of(&self, host: &str) -> Arc<Semaphore> {
        self.hosts
            .lock()
            .expect("lock poisoned")
            .entry(host.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)))
            .clone()
    }
}

/// Tells "our network is down" from "this feed is broken": network-level
/// failures on several hosts with no success in between.
struct OutageDetector {
    hosts_total: usize,
    failing: HashSet<String>,
}

impl OutageDetector {
    fn success(&mut self) {
        self.failing.clear();
    }

    /// Records a network-level failure; true while an outage is likely.
    fn network_failure(&mut self, host: &str) -> bool {
        self.failing.insert(host.to_owned());
        // One host alone proves nothing; three failing (or all, when fewer
        // are configured) with nothing succeeding is our side.
        let threshold = self.hosts_total.clamp(2, 3);
        self.hosts_total >= 2 && self.failing.len() >= threshold
    }
}

/// A stable pseudo-random fraction in [0, 1) for spreading feeds in time:
/// derived from the feed and a salt, so tests can predict it.
fn fraction(key: &str, salt: i64) -> f64 {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    salt.hash(&mut h);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The wait after a failure: a quarter of the interval doubling with each
/// consecutive failure, capped, with up to 10% jitter.
fn backoff(interval: Duration, failures: u32, jitter: f64) -> Duration {
    let base = (interval / 4).max(Duration::from_secs(60));
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
    base.saturating_mul(factor)
        .min(MAX_BACKOFF)
        .mul_f64(1.0 + 0.1 * jitter)
}

/// The wait after a success: the configured interval, or longer when the
/// publisher asks, within the bounds; up to 5% jitter.
fn refresh(
    interval: Duration,
    publisher: Option<Duration>,
    min: Duration,
    max: Duration,
    jitter: f64,
) -> Duration {
    interval
        .max(publisher.unwrap_or_default())
        .clamp(min, max)
        .mul_f64(1.0 + 0.05 * jitter)
}

/// Fetches, parses and stores one feed, records the result in its state and
/// decides when it is due next.
pub async fn poll_feed(ctx: &PollContext, feed: &FeedConfig, interval: Duration) -> FeedReport {
    let state = read_state(ctx, feed);
    let target = target_of(feed, &state);
    let permits = ctx.permits(&target).await;
    let (report, state) = poll_with(ctx, feed, interval, state, target, permits).await;
    if let Err(e) = ctx.store.put_feed_state(&report.url, &state) {
        warn!(feed = %feed.name, url = %report.url, error = %e, "Cannot save feed state.");
    }
    report
}

/// The feed's saved state, or a fresh one (logged) if it cannot be read.
fn read_state(ctx: &PollContext, feed: &FeedConfig) -> FeedState {
    match ctx.store.feed_state(feed.url.as_str()) {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => {
            warn!(feed = %feed.name, url = %feed.url, error = %e, "Cannot read feed state; polling without validators.");
            FeedState::default()
        }
    }
}

/// Where to fetch: the feed a page linked, else where a permanent redirect
/// led, is polled directly from then on.
fn target_of(feed: &FeedConfig, state: &FeedState) -> Url {
    state
        .discovered_feed
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| configured_target(feed, state))
}

/// The configured URL, or where its permanent redirect led.
fn configured_target(feed: &FeedConfig, state: &FeedState) -> Url {
    state
        .permanent_redirect
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| feed.url.clone())
}

/// The poll itself, once the caller holds the fetch `permits` (dropped
/// when the fetch ends). Returns the feed's new state for the caller to
/// save (in a fleet, with the lease's release).
async fn poll_with<P>(
    ctx: &PollContext,
    feed: &FeedConfig,
    interval: Duration,
    mut state: FeedState,
    target: Url,
    permits: P,
) -> (FeedReport, FeedState) {
    let url = feed.url.to_string();
    let site_before = state.site_url.clone();
    let started = ctx.clock.now();
    let validators = validators::to_send(&state, started.timestamp());
    let timer = std::time::Instant::now();
    let before = gaps::Before::of(&state);
    state.last_attempt = Some(started.timestamp());
    state.gone = false;
    // The body slot comes back inside `fetched` and is held until the
    // document is parsed and stored (see `process`).
    let fetched = fetcher_for(ctx, feed)
        .fetch_gated(
            &target,
            &validators,
            feed.allow_private_networks,
            Some(&ctx.bodies),
        )
        .await;
    drop(permits);
    let fetched = follow_page(ctx, feed, &mut state, &target, fetched).await;

    let jitter = fraction(&url, started.timestamp());
    type Polled = (Outcome, Duration, bool, Option<pages::Recovery>);
    let result: Result<Polled, FeedFailure> = match fetched {
        Ok(f) => {
            let cache = f
                .cache
                .max_age
                .into_iter()
                .chain(f.cache.fresh_for(started))
                .max();
            let answered_from = f.url.clone();
            match process(ctx, feed, &mut state, f, started).await {
                Ok((mut outcome, stored_keys)) => {
                    let verdict = verdict_of(&before, &outcome, started, interval);
                    let recovery = match (&mut outcome, verdict) {
                        (Outcome::Updated { notes, ingest, .. }, gaps::Verdict::Gap) => {
                            match notes.next_page.clone().filter(|_| ctx.gap_pages > 0) {
                                Some(next) => {
                                    let read = [&target, &answered_from];
                                    let rec = pages::recover(
                                        ctx,
                                        feed,
                                        &mut state,
                                        &read,
                                        next,
                                        notes.next_page_guessed,
                                        stored_keys,
                                        started,
                                    )
                                    .await;
                                    ingest.new += rec.ingest.new;
                                    ingest.duplicate += rec.ingest.duplicate;
                                    ingest.merged += rec.ingest.merged;
                                    ingest.revised += rec.ingest.revised;
                                    Some(rec)
                                }
                                None => None,
                            }
                        }
                        _ => None,
                    };
                    let publisher = state.refresh_hint().max(cache);
                    let (sped, gap) = adapt(
                        ctx,
                        feed,
                        &mut state,
                        interval,
                        publisher,
                        &before,
                        (verdict, &outcome, recovery.as_ref()),
                        started,
                    );
                    let next = refresh(sped, publisher, ctx.min_interval, ctx.max_interval, jitter);
                    Ok((outcome, next, gap, recovery))
                }
                Err(failure) => Err(failure),
            }
        }
        Err(failure) => Err(failure),
    };

    let mut gap = false;
    let mut recovery = None;
    let (outcome, next_due) = match result {
        Ok((outcome, next, was_gap, recovered)) => {
            gap = was_gap;
            recovery = recovered.map(Box::new);
            ctx.outage.lock().expect("lock poisoned").success();
            state.last_success = Some(started.timestamp());
            state.consecutive_failures = 0;
            state.last_error = None;
            debug!(feed = %feed.name, url = %url, ?outcome, "Polled.");
            (outcome, Some(add(started, next)))
        }
        Err(failure) => {
            let (error, next) = match failure {
                FeedFailure::Gone => {
                    state.gone = true;
                    warn!(feed = %feed.name, url = %url, "Feed is gone (HTTP 410): no longer polled. Remove it from feeds.toml; a restart polls it again.");
                    (
                        "HTTP 410 Gone: the publisher removed this feed; not polled until restart".to_owned(),
                        None,
                    )
                }
                FeedFailure::RetryAfter(error, after) => {
                    state.consecutive_failures += 1;
                    let at = match after {
                        RetryAfter::Delay(d) => add(started, d),
                        RetryAfter::At(t) => t,
                    };
                    // Never sooner than min_interval: this publisher is
                    // already telling us we come too often.
                    let at = at.clamp(add(started, ctx.min_interval), add(started, MAX_RETRY_AFTER));
                    warn!(feed = %feed.name, url = %url, %error, retry_at = %at.to_rfc3339(), "Feed asks us to wait (Retry-After).");
                    (format!("{error}; retrying after {}", at.to_rfc3339()), Some(at))
                }
                FeedFailure::Network(error) => {
                    let host = target.host_str().unwrap_or_default().to_owned();
                    if ctx.outage.lock().expect("lock poisoned").network_failure(&host) {
                        let wait = interval.min(OUTAGE_RETRY).mul_f64(1.0 + 0.1 * jitter);
                        warn!(feed = %feed.name, url = %url, %error, "Fetch failed; several hosts unreachable, assuming a network outage (no backoff).");
                        (
                            format!("{error} (network outage suspected)"),
                            Some(add(started, wait)),
                        )
                    } else {
                        state.consecutive_failures += 1;
                        let wait = backoff(interval, state.consecutive_failures, jitter);
                        warn!(feed = %feed.name, url = %url, failures = state.consecutive_failures, %error, "Feed failed.");
                        (error, Some(add(started, wait)))
                    }
                }
                FeedFailure::Store(error) => {
                    let wait = interval.min(OUTAGE_RETRY).mul_f64(1.0 + 0.1 * jitter);
                    tracing::error!(feed = %feed.name, url = %url, %error,
                        "Cannot store the feed's items: check the store's disk space and permissions. Serving what is stored; retrying.");
                    (format!("{STORE_FAILURE}: {error}"), Some(add(started, wait)))
                }
                FeedFailure::Other(error) => {
                    state.consecutive_failures += 1;
                    let wait = backoff(interval, state.consecutive_failures, jitter);
                    warn!(feed = %feed.name, url = %url, failures = state.consecutive_failures, %error, "Feed failed.");
                    (error, Some(add(started, wait)))
                }
            };
            state.last_error = Some(error.clone());
            (Outcome::Failed { error }, next)
        }
    };
    state.next_due = next_due.map(|t| t.timestamp());
    state.polled_by = Some(ctx.node.to_string());
    let report = FeedReport {
        url,
        name: feed.name.clone(),
        // `last_status` is set on every attempt; 200 means a body arrived.
        bytes: if state.last_status == Some(200) {
            state.bytes
        } else {
            0
        },
        outcome,
        next_due,
        duration: timer.elapsed(),
        consecutive_failures: state.consecutive_failures,
        site_changed: state.site_url != site_before,
        gap,
        recovery,
    };
    (report, state)
}

/// What a successful poll says about its feed's interval ([`gaps::judge`]).
fn verdict_of(
    before: &gaps::Before,
    outcome: &Outcome,
    now: DateTime<Utc>,
    configured: Duration,
) -> gaps::Verdict {
    match outcome {
        Outcome::NotModified => gaps::Verdict::Calm,
        Outcome::Updated { notes, .. } => {
            let window = gaps::Window {
                entries: notes.entries,
                known: notes.known,
                over_limit: notes.over_limit,
            };
            gaps::judge(before, &window, now.timestamp(), configured)
        }
        Outcome::Failed { .. } => gaps::Verdict::Unknown,
    }
}

/// Judges a successful poll for a gap ([`gaps`]), moves the feed's
/// speed-up and says what operators must know. Returns the interval to
/// refresh from (the configured one, sped up after gaps; [`refresh`] still
/// bounds it) and whether this poll was a gap.
#[allow(clippy::too_many_arguments)]
fn adapt(
    ctx: &PollContext,
    feed: &FeedConfig,
    state: &mut FeedState,
    configured: Duration,
    publisher: Option<Duration>,
    before: &gaps::Before,
    (verdict, outcome, recovery): (gaps::Verdict, &Outcome, Option<&pages::Recovery>),
    now: DateTime<Utc>,
) -> (Duration, bool) {
    let entries = match outcome {
        Outcome::Updated { notes, .. } => notes.entries,
        Outcome::NotModified | Outcome::Failed { .. } => 0,
    };
    let change = gaps::step(state, configured, verdict, now.timestamp());
    let sped = gaps::sped_up(configured, state.speedup);
    let in_force = refresh(sped, publisher, ctx.min_interval, ctx.max_interval, 0.0);
    state.interval = Some(in_force.as_secs());
    let every = gaps::human(in_force);
    match change {
        gaps::Change::Faster { from, to } => {
            let ago = before
                .success_at
                .map(|t| {
                    gaps::human(Duration::from_secs(
                        now.timestamp().saturating_sub(t).max(0) as u64
                    ))
                })
                .unwrap_or_default();
            let none = format!("none of the {entries} entries was in the last poll {ago} ago");
            let note = match recovery {
                Some(rec) => format!("{none}; {}", rec.describe()),
                None => format!("{none}: entries published in between may have been missed"),
            };
            state.last_recovered = recovery.map(|r| r.entries);
            state.recovered += recovery.map_or(0, |r| r.entries as u64);
            // Why it is not faster, when it is not.
            let mut why = String::new();
            if in_force > sped {
                match publisher.filter(|p| *p >= in_force) {
                    Some(p) => why.push_str(&format!(
                        " (not faster: the publisher asks for one poll every {} at most)",
                        gaps::human(p)
                    )),
                    None => why.push_str(&format!(
                        " (not faster: [poll] min_interval is {})",
                        gaps::human(ctx.min_interval)
                    )),
                }
            } else if from == to {
                why.push_str(&format!(
                    " (not faster: at most {}x the configured {})",
                    1u32 << gaps::MAX_SPEEDUP,
                    gaps::human(configured)
                ));
            }
            if recovery.is_some_and(|r| r.overlap) {
                // Nothing was lost: the feed only outran its interval.
                info!(feed = %feed.name, url = %feed.url, gaps = state.gaps, "{note}; polling every {every} now{why}.");
            } else {
                warn!(feed = %feed.name, url = %feed.url, gaps = state.gaps, "{note}; polling every {every} now{why}.");
            }
            state.last_gap_note = Some(format!("{note}; polling every {every}{why}"));
        }
        gaps::Change::Slower { .. } => {
            info!(feed = %feed.name, url = %feed.url, "Polls overlap again since the last gap; polling every {every} now.");
        }
        gaps::Change::Reset => {
            info!(feed = %feed.name, url = %feed.url, "Configured interval changed: the speed-up after gaps starts again from it; polling every {every}.");
        }
        gaps::Change::None => {}
    }
    (sped, verdict == gaps::Verdict::Gap)
}

enum FeedFailure {
    /// Our store could not take the items (disk full, read-only): not the
    /// feed's fault, so no backoff; retried soon, nothing is lost meanwhile
    /// (the feed still has the items, and the validators are not updated).
    Store(String),
    Gone,
    RetryAfter(String, RetryAfter),
    Network(String),
    Other(String),
}

impl FeedFailure {
    /// What operators are told.
    fn message(&self) -> &str {
        match self {
            FeedFailure::Store(m)
            | FeedFailure::RetryAfter(m, _)
            | FeedFailure::Network(m)
            | FeedFailure::Other(m) => m,
            FeedFailure::Gone => "HTTP 410 Gone",
        }
    }
}

fn classify(e: FetchError) -> FeedFailure {
    match &e {
        FetchError::Status { status: 410, .. } => FeedFailure::Gone,
        FetchError::Status {
            status: 429 | 503,
            retry_after: Some(at),
            ..
        } => FeedFailure::RetryAfter(e.to_string(), *at),
        _ if e.is_network() => FeedFailure::Network(e.to_string()),
        _ => FeedFailure::Other(e.to_string()),
    }
}

/// The feed behind a fetch of `target`: the answer itself when it is a feed
/// (or a 304), else the feed its page links, fetched now (see
/// [`crate::discover`]). When `target` is the feed a page linked before
/// and it is gone (404, 410) or a page now, the configured URL is fetched
/// once more and its page read again. Permanent moves and the feed found
/// are noted in `state`.
async fn follow_page(
    ctx: &PollContext,
    feed: &FeedConfig,
    state: &mut FeedState,
    target: &Url,
    fetched: Result<Fetched, FetchError>,
) -> Result<Fetched, FeedFailure> {
    let from_page = state.discovered_feed.as_deref() == Some(target.as_str());
    let lost = |why: &str| {
        warn!(feed = %feed.name, url = %feed.url, feed_url = %target, why,
              "The feed found in the configured page fails; reading the page again.");
    };
    let page = match fetched {
        Ok(f) if !f.page => {
            if from_page {
                note_moved_feed(feed, state, f.moved_permanently.as_ref());
            } else {
                note_redirect(feed, state, f.moved_permanently.as_ref());
                // The configured URL answers with a feed again.
                state.discovered_feed = None;
            }
            return Ok(f);
        }
        Ok(stale) if from_page => {
            // Its body slot goes before the configured URL takes one.
            drop(stale);
            lost("it answers with a web page");
            None
        }
        Err(e) if from_page && matches!(e.status(), Some(404 | 410)) => {
            lost(&e.to_string());
            None
        }
        Err(e) => {
            state.last_status = e.status();
            return Err(classify(e));
        }
        Ok(page) => {
            note_redirect(feed, state, page.moved_permanently.as_ref());
            Some(page)
        }
    };
    let page = match page {
        Some(page) => page,
        None => {
            state.discovered_feed = None;
            let configured = configured_target(feed, state);
            // Validators belong to the feed that failed.
            match fetch_hop(ctx, feed, &configured, &Validators::default()).await {
                Ok(f) => {
                    note_redirect(feed, state, f.moved_permanently.as_ref());
                    if !f.page {
                        return Ok(f);
                    }
                    f
                }
                Err(e) => {
                    state.last_status = e.status();
                    return Err(classify(e));
                }
            }
        }
    };
    state.last_status = Some(200);
    let page_url = page.url.clone();
    let content_type = page.content_type.clone();
    let body = page.body.clone().unwrap_or_default();
    let base = page_url.clone();
    let ct = content_type.clone();
    let chosen = tokio::task::spawn_blocking(move || {
        let html = crate::extract::decode(&body, ct.as_deref());
        crate::discover::choose(&crate::discover::feed_links(&html, &base)).map(|l| l.url.clone())
    })
    .await
    .map_err(|e| FeedFailure::Other(format!("internal error while reading the page: {e}")))?;
    // The page's body slot goes before the feed takes one.
    drop(page);
    let kind = content_type
        .as_deref()
        .and_then(|t| t.split(';').next())
        .map_or("no Content-Type".to_owned(), |t| t.trim().to_owned());
    let Some(linked) = chosen else {
        return Err(FeedFailure::Other(format!(
            "{page_url} is a web page ({kind}) with no feed link in its head: put the feed's URL in feeds.toml"
        )));
    };
    let failed = |e: FetchError| {
        let say = |m: String| format!("the feed the web page {page_url} links, {linked}, failed: {m}");
        match classify(e) {
            FeedFailure::Network(m) => FeedFailure::Network(say(m)),
            FeedFailure::RetryAfter(m, at) => FeedFailure::RetryAfter(say(m), at),
            FeedFailure::Gone => FeedFailure::Other(say("HTTP 410 Gone".into())),
            FeedFailure::Other(m) | FeedFailure::Store(m) => FeedFailure::Other(say(m)),
        }
    };
    match fetch_hop(ctx, feed, &linked, &Validators::default()).await {
        Err(e) => {
            state.last_status = e.status();
            Err(failed(e))
        }
        // One hop: a page linking a page is not followed further.
        Ok(f) if f.page => Err(FeedFailure::Other(format!(
            "{page_url} is a web page whose feed link, {linked}, is a web page too: not followed further; put the feed's URL in feeds.toml"
        ))),
        Ok(f) => {
            let found = f.moved_permanently.clone().unwrap_or(linked);
            if state.discovered_feed.as_deref() != Some(found.as_str()) {
                warn!(feed = %feed.name, url = %feed.url, page = %page_url, feed_url = %found,
                      "feeds.toml names a web page; polling the feed it links, {found}: put {found} in feeds.toml.");
                state.discovered_feed = Some(found.to_string());
            }
            Ok(f)
        }
    }
}

/// The fetcher for one feed's own requests: its `user_agent`, and the
/// credentials of its URL, sent to its host only.
fn fetcher_for(ctx: &PollContext, feed: &FeedConfig) -> crate::fetch::Fetcher {
    ctx.fetcher
        .with_user_agent(feed.user_agent.as_deref())
        .with_credentials(&feed.url, feed.credentials.as_ref())
}

/// One more fetch within a poll, under the same limits as the first: the
/// host's slots (fleet-wide on a shared store), the global limit, a body slot.
async fn fetch_hop(
    ctx: &PollContext,
    feed: &FeedConfig,
    url: &Url,
    validators: &Validators,
) -> Result<Fetched, FetchError> {
    let permits = ctx.permits(url).await;
    // Within a poll whose lease is held (and renewed): without an answer
    // from the store the in-process limit still holds.
    let slot = if ctx.store.is_shared() {
        ctx.fleet_slot(url, feed.url.as_str()).await.ok()
    } else {
        None
    };
    let fetched = fetcher_for(ctx, feed)
        .fetch_gated(url, validators, feed.allow_private_networks, Some(&ctx.bodies))
        .await;
    drop((permits, slot));
    fetched
}

/// A feed found in a page that moved permanently: polled where it went.
fn note_moved_feed(feed: &FeedConfig, state: &mut FeedState, moved: Option<&Url>) {
    let Some(moved) = moved else { return };
    if state.discovered_feed.as_deref() != Some(moved.as_str()) {
        warn!(feed = %feed.name, url = %feed.url, feed_url = %moved,
              "feeds.toml names a web page; the feed it links moved permanently; polling {moved}: put {moved} in feeds.toml.");
        state.discovered_feed = Some(moved.to_string());
    }
}

/// Logs a permanent move once, when it is first seen or changes.
fn note_redirect(feed: &FeedConfig, state: &mut FeedState, moved: Option<&Url>) {
    let Some(moved) = moved else { return };
    if state.permanent_redirect.as_deref() != Some(moved.as_str()) {
        warn!(feed = %feed.name, url = %feed.url, new_url = %moved,
              "Feed moved permanently; polling the new URL. Update its url in feeds.toml.");
        state.permanent_redirect = Some(moved.to_string());
    }
}

/// Handles a completed exchange: 304, an unchanged body, or a document to
/// parse and store.
async fn process(
    ctx: &PollContext,
    feed: &FeedConfig,
    state: &mut FeedState,
    fetched: Fetched,
    started: DateTime<Utc>,
) -> Result<(Outcome, Vec<crate::item::ItemKey>), FeedFailure> {
    // Held to the end: the next body is read only when this one is stored.
    let _body_slot = fetched.body_slot;
    let Some(body) = fetched.body else {
        state.last_status = Some(304);
        return Ok((Outcome::NotModified, Vec::new()));
    };
    state.last_status = Some(200);
    state.last_full = Some(started.timestamp());
    state.bytes = body.len() as u64;
    let hash = format!("{:x}", Sha256::digest(&body));
    let changed = state.body_hash.as_deref() != Some(hash.as_str());
    // Judged once the document is stored: only entries the validators
    // kept from us prove them wrong (see `validators`).
    let suspect = !state.validators_ignored && validators::contradicted(state, &fetched.validators, changed);
    if !changed {
        state.etag = fetched.validators.etag;
        state.last_modified = fetched.validators.last_modified;
        return Ok((Outcome::NotModified, Vec::new()));
    }
    let stored = parse_and_store(
        ctx,
        feed,
        body,
        fetched.content_type,
        started,
        state.shared_links.clone(),
        None,
    )
    .await?;
    count_revised(state, &stored.revised, started);
    let (entries, known, report) = (stored.entries(), stored.known(), stored.report());
    // feed-rs resolved it against the feed's URL (xml:base first); an
    // href it left relative resolves against where the document came from.
    let named = stored
        .parsed
        .next_page
        .as_deref()
        .and_then(|href| fetched.url.join(href).ok());
    let next_page_guessed = named.is_none() && stored.parsed.wordpress;
    let next_page = named.or_else(|| {
        next_page_guessed
            .then(|| pages::wordpress_next(&fetched.url))
            .flatten()
    });
    // A document that may be a gap with a next page: the keys it stored,
    // so that its next pages tell its entries from those of the poll
    // before (`pages`). Nothing is kept for any other document.
    let stored_keys = if known == 0 && next_page.is_some() {
        stored
            .parsed
            .items
            .iter()
            .map(|i| i.key.clone())
            .chain(stored.parsed.sightings.iter().map(|s| s.key.clone()))
            .collect()
    } else {
        Vec::new()
    };
    let Stored {
        parsed,
        ingest,
        revised,
        ..
    } = stored;
    let too_old = parsed.too_old;
    let (feed_name, feed_url) = (&feed.name, &feed.url);
    state.etag = fetched.validators.etag;
    state.last_modified = fetched.validators.last_modified;
    state.body_hash = Some(hash);
    state.charset = Some(parsed.charset.to_owned());
    state.title = parsed.title;
    state.site_url = parsed.site_url;
    let seen = parsed.items.len() + parsed.sightings.len() + parsed.skipped + too_old;
    state.items_seen = seen;
    state.items_new = ingest.new;
    let unseen = ingest.new + revised.len() + parsed.sightings.len();
    if suspect && unseen > 0 {
        state.validators_ignored = true;
        warn!(feed = %feed_name, url = %feed_url, unseen, etag = ?state.etag, last_modified = ?state.last_modified,
              "The server sent entries we lacked under the validators it answered 304 to: they do not follow the document, so it is polled without them from now on.");
    }
    state.publisher_interval = parsed.min_refresh.map(|d| d.as_secs());
    state.no_entries = parsed.no_entries.clone();
    state.repaired = parsed.repaired.clone();
    state.items_too_old = too_old;
    state.items_over_limit = parsed.dropped;
    state.items_empty = parsed.empty;
    state.shared_links.remember(parsed.shared_links);
    if let Some(reason) = &parsed.no_entries {
        warn!(feed = %feed_name, url = %feed_url, reason = %reason, "Document shows entries but none was understood.");
    }
    if let Some(repairs) = &parsed.repaired {
        warn!(feed = %feed_name, url = %feed_url, repaired = %repairs, "Document was not well-formed; read after repair.");
    }
    if too_old > 0 {
        tracing::info!(feed = %feed_name, url = %feed_url, too_old, "Entries older than the retention skipped.");
    }
    if parsed.dropped > 0 {
        // Entries within the retention, lost unless the cap is raised.
        warn!(feed = %feed_name, url = %feed_url, over_limit = parsed.dropped, max_items = ctx.limits.max_items,
              "Entries beyond [poll] max_items not read.");
    }
    if parsed.empty > 0 {
        tracing::info!(feed = %feed_name, url = %feed_url, empty = parsed.empty, "Entries with no title, text or link skipped.");
    }
    let outcome = Outcome::Updated {
        items: seen,
        notes: ParseNotes {
            no_entries: parsed.no_entries,
            repaired: parsed.repaired,
            too_old,
            over_limit: parsed.dropped,
            empty: parsed.empty,
            entries,
            known,
            next_page,
            next_page_guessed,
        },
        ingest: report,
    };
    Ok((outcome, stored_keys))
}

/// One document parsed and stored as this feed's.
struct Stored {
    /// With the entries dated older than the retention counted
    /// (`too_old`), neither built nor stored.
    parsed: crate::parse::ParsedFeed,
    /// What the store did, as it reports it (entries skipped at parse as
    /// known are not in it).
    ingest: IngestReport,
    /// Keys whose record the document's revisions rewrote.
    revised: Vec<crate::item::ItemKey>,
    /// With `this_poll` given: an entry this feed brought before this
    /// poll (a key the store holds from it, not one of `this_poll`).
    older: bool,
}

impl Stored {
    /// Entries read within the retention (and `max_items`).
    fn entries(&self) -> usize {
        self.parsed.items.len() + self.parsed.sightings.len() + self.parsed.skipped
    }

    /// Of them, entries this feed brought before: skipped as known from
    /// this feed, or found at commit already carrying it (stored and not
    /// merged: a sighting or a concurrent commit of this feed's own item).
    fn known(&self) -> usize {
        self.parsed.skipped + self.ingest.duplicate.saturating_sub(self.ingest.merged)
    }

    /// The ingest as reported: entries skipped as already known are
    /// duplicates too.
    fn report(&self) -> IngestReport {
        IngestReport {
            duplicate: self.ingest.duplicate + self.parsed.skipped,
            ..self.ingest
        }
    }
}

/// Parses `body` as `feed`'s document and stores its entries: the one
/// path from bytes to the store for a feed's document and its next pages
/// ([`pages`]), with the store's lookups, the retention, revisions and
/// the full-text claims of new items. Takes a core while parsing; the
/// caller holds the document's body slot.
async fn parse_and_store(
    ctx: &PollContext,
    feed: &FeedConfig,
    body: bytes::Bytes,
    content_type: Option<String>,
    started: DateTime<Utc>,
    // Empty for nearly every feed (no allocation to copy).
    shared_links: crate::parse::SharedLinks,
    // A next page's: the keys this poll stored already, told apart from
    // the entries the feed brought before (see `Stored::older`).
    this_poll: Option<Arc<HashSet<crate::item::ItemKey>>>,
) -> Result<Stored, FeedFailure> {
    let store = ctx.store.clone();
    let (feed_name, feed_url) = (feed.name.clone(), feed.url.clone());
    let feed = feed.clone();
    let limits = ctx.limits;
    // Parsing and sled writes are CPU and blocking I/O: keep them off the
    // async workers so that serving and other fetches go on.
    let cpu = ctx
        .cpu
        .clone()
        .acquire_owned()
        .await
        .expect("semaphores are never closed");
    let full_text = ctx.full_text.clone().filter(|_| feed.full_text.is_some());
    let job_ctx = ctx.clone();
    let parsed = tokio::task::spawn_blocking(move || {
        let feed_url = feed.url.to_string();
        // A shared store answers in round trips: ask once per document for
        // the keys this feed already brought, not once per entry. (Pruned
        // items it still lists are then parsed in full, and the store finds
        // them seen.)
        let known = store
            .is_shared()
            .then(|| store.keys_from(&feed_url))
            .transpose()
            .map_err(|e| FeedFailure::Store(e.to_string()))?;
        let older = std::cell::Cell::new(false);
        let lookup = |key: &crate::item::ItemKey| match &known {
            Some(keys) => match keys.get(key.as_str()) {
                Some(&(date, print)) => Known::FromThisFeed {
                    date: Some(date),
                    print,
                },
                None => Known::New,
            },
            // One lookup per entry. A story another feed brought is
            // neither built (nor sanitised) again nor read back: the
            // commit adds this feed to its sources.
            None => match store.lookup(key, &feed_url) {
                Ok(Lookup::Known { date, print }) => Known::FromThisFeed { date, print },
                Ok(Lookup::Elsewhere { date }) => Known::Elsewhere { date },
                Ok(Lookup::Unknown) | Err(_) => Known::New,
            },
        };
        let known = |key: &crate::item::ItemKey| {
            let k = lookup(key);
            if let (Known::FromThisFeed { .. }, Some(this_poll)) = (&k, &this_poll) {
                if !this_poll.contains(key) {
                    older.set(true);
                }
            }
            k
        };
        // A failed read leaves the entry untold: keyed anew, at worst
        // stored once more, never lost.
        let stored = |key: &crate::item::ItemKey| store.get(key).ok().flatten();
        let parsed = parse_feed_recalling(
            FeedRef {
                url: &feed.url,
                name: &feed.name,
            },
            &body,
            content_type.as_deref(),
            started,
            // With `[storage] retention`: older entries are counted
            // (`too_old`), not built. Stored, they would be pruned at the
            // next retention pass (and `poll-once` would publish them first).
            limits,
            &Recall {
                known: &known,
                stored: &stored,
                shared: &shared_links,
            },
        )
        .map_err(|e| FeedFailure::Other(e.to_string()))?;
        let mut parsed = parsed;
        // An update time in the future of the poll is not stored (the sort
        // date passes over it too, `Item::pick_date`): outputs publish
        // `updated` as the item's last change, and a revision sets it to
        // its own time, later than the item's first sight, so the render
        // cannot tell a future one by that.
        for item in &mut parsed.items {
            item.updated = item.updated.filter(|&u| u <= item.first_seen);
        }
        let older = older.get();
        Ok::<_, FeedFailure>((parsed, store, feed, older))
    })
    .await
    .unwrap_or_else(|e| Err(FeedFailure::Other(format!("internal error while parsing: {e}"))))?;
    let (parsed, store, feed, older) = parsed;
    // The core is free for the next document while this one waits for its
    // commit (the store groups the documents that wait together); the body
    // slot is still held, so what is in flight stays bounded.
    drop(cpu);
    let (parsed, ingest, jobs) = tokio::task::spawn_blocking(move || {
        // New items of a `full_text` feed are claimed with their commit,
        // so no render shows them before their article had its chance.
        let opts = feed.full_text.as_ref().filter(|_| full_text.is_some());
        let hold_until = opts.map_or(0, |o| add(started, o.timeout).timestamp());
        // `full_text = "auto"`: an item whose own text is the article is
        // neither fetched nor held.
        let wanted = |item: &crate::item::Item| {
            item.link.as_deref().is_some_and(|l| Url::parse(l).is_ok())
                && opts.is_some_and(|o| !o.auto || crate::fulltext::is_teaser(item))
        };
        let claim = opts.map(|_| crate::store::FullTextClaim {
            feed_url: feed.url.as_str(),
            hold_until,
            wanted: &wanted,
            hold: full_text.as_ref().is_none_or(crate::fulltext::JobSender::holds),
        });
        match store.ingest_parsed(
            &parsed.items,
            &parsed.sightings,
            &parsed.revisions,
            claim.as_ref(),
        ) {
            Ok(ingested) => {
                let jobs = full_text_jobs(&feed, &parsed.items, &ingested.claimed, hold_until, &job_ctx);
                Ok((parsed, ingested, jobs))
            }
            Err(e) => Err(FeedFailure::Store(e.to_string())),
        }
    })
    .await
    .unwrap_or_else(|e| Err(FeedFailure::Other(format!("internal error while storing: {e}"))))?;
    let crate::store::Ingested {
        report: ingest,
        revised,
        ..
    } = ingest;
    for key in &revised {
        let link = parsed
            .revisions
            .iter()
            .find(|r| &r.key == key)
            .and_then(|r| r.item.as_ref()?.link.as_deref())
            .unwrap_or(key.as_str());
        tracing::info!(feed = %feed_name, url = %feed_url, item = %link, "Entry revised by its feed; stored item rewritten.");
    }

    if let Some(tx) = &ctx.full_text {
        for job in jobs {
            let _ = tx.send(job);
        }
    }
    Ok(Stored {
        parsed,
        ingest,
        revised,
        older,
    })
}

/// Counts the revisions a document's ingest made.
fn count_revised(state: &mut FeedState, revised: &[crate::item::ItemKey], started: DateTime<Utc>) {
    if !revised.is_empty() {
        state.revised += revised.len() as u64;
        state.last_revision = Some(started.timestamp());
    }
}

/// What the scheduler gets back from one due feed.
enum Polled {
    Done(Box<FeedReport>),
    /// Not polled here: another node holds its lease or polled it already,
    /// or the store is unreachable. Due again (for this node) at `next_due`.
    Skipped {
        url: String,
        next_due: DateTime<Utc>,
    },
}

/// How soon a node retries claiming feeds while its store is unreachable.
const STORE_RETRY: Duration = Duration::from_secs(5);

/// Polls a due feed if this node gets its lease (always, without a fleet),
/// then releases the lease with the feed's next due time.
async fn poll_leased(ctx: &PollContext, feed: &FeedConfig, interval: Duration) -> Polled {
    if !ctx.store.is_shared() {
        return Polled::Done(Box::new(poll_feed(ctx, feed, interval).await));
    }
    // This node's own limits first, so that it claims only what it can
    // fetch now: a lease is not held while queueing behind local work.
    let permits = ctx.permits(&feed.url).await;
    let url = feed.url.to_string();
    let now = ctx.clock.now();
    let claim = {
        let (store, url, node, ttl) = (ctx.store.clone(), url.clone(), ctx.node.clone(), ctx.lease);
        tokio::task::spawn_blocking(move || store.claim(&url, &node, now.timestamp(), ttl))
            .await
            .unwrap_or_else(|e| Err(crate::store::StoreError::Database(e.to_string())))
    };
    let at = |t: i64| {
        DateTime::from_timestamp(t, 0)
            .unwrap_or(now)
            .max(add(now, Duration::from_secs(1)))
    };
    let state = match claim {
        Ok(Claim::Granted(state)) => state.map(|s| *s).unwrap_or_default(),
        Ok(Claim::NotDue(t)) => {
            debug!(feed = %feed.name, %url, "Polled by another node; next due then.");
            return Polled::Skipped { url, next_due: at(t) };
        }
        Ok(Claim::Held(until)) => {
            debug!(feed = %feed.name, %url, "Another node is polling it.");
            return Polled::Skipped {
                url,
                next_due: at(until),
            };
        }
        Err(e) => {
            debug!(feed = %feed.name, %url, error = %e, "Store unavailable; not polling.");
            return Polled::Skipped {
                url,
                next_due: add(now, STORE_RETRY),
            };
        }
    };
    // The state came with the claim: the node that polled last may have
    // been another.
    let target = target_of(feed, &state);
    // Waiting for a host slot may have outlasted the lease: the slot is
    // taken only while the lease is still ours, renewed for the fetch.
    let slot = match ctx.fleet_slot(&target, &url).await {
        Ok(slot) => slot,
        Err(NoSlot::LeaseLost) => {
            debug!(feed = %feed.name, %url, "Lease lost while waiting for a host slot; not polling.");
            return Polled::Skipped {
                url,
                next_due: add(ctx.clock.now(), Duration::from_secs(1)),
            };
        }
        Err(NoSlot::Store(e)) => {
            debug!(feed = %feed.name, %url, error = %e, "Store unavailable; not polling.");
            return Polled::Skipped {
                url,
                next_due: add(ctx.clock.now(), STORE_RETRY),
            };
        }
    };
    let (report, state) = holding_lease(
        ctx,
        &url,
        poll_with(ctx, feed, interval, state, target, (permits, slot)),
    )
    .await;
    // A feed that is gone waits a day in the fleet's schedule (a restart
    // polls it again, as without a fleet).
    let next = report
        .next_due
        .unwrap_or_else(|| add(now, Duration::from_secs(86_400)))
        .timestamp();
    let (store, node) = (ctx.store.clone(), ctx.node.clone());
    let released = tokio::task::spawn_blocking(move || store.release(&url, &node, next, &state)).await;
    match released {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            warn!(feed = %feed.name, url = %report.url, "Lost the feed's lease before saving its state; the node that holds it now saves its own.")
        }
        Ok(Err(e)) => {
            warn!(feed = %feed.name, url = %report.url, error = %e, "Cannot release the feed's lease and save its state; the lease expires by itself.")
        }
        Err(e) => {
            warn!(feed = %feed.name, url = %report.url, error = %e, "Lease release task ended abnormally.")
        }
    }
    Polled::Done(Box::new(report))
}

/// Runs `poll` while renewing this node's lease on `url` every third of
/// the lease: a live node keeps its feed however long the poll takes (a
/// loaded machine, a slow store), so only a dead node's leases expire and
/// no feed is fetched twice because its poll outlasted one lease.
async fn holding_lease<T>(ctx: &PollContext, url: &str, poll: impl std::future::Future<Output = T>) -> T {
    let period = (ctx.lease / 3).max(Duration::from_millis(100));
    let renewing = async {
        loop {
            tokio::time::sleep(period).await;
            let (store, owned, node, ttl) = (ctx.store.clone(), url.to_owned(), ctx.node.clone(), ctx.lease);
            match tokio::task::spawn_blocking(move || store.renew(&owned, &node, ttl)).await {
                Ok(Ok(true)) => {}
                Ok(Ok(false)) => {
                    warn!(%url, "Lost the feed's lease during its poll; another node may poll it too.")
                }
                Ok(Err(e)) => debug!(%url, error = %e, "Cannot renew the feed's lease; retrying."),
                Err(e) => debug!(%url, error = %e, "Lease renewal task ended abnormally."),
            }
        }
    };
    tokio::select! {
        out = poll => out,
        () = renewing => unreachable!("lease renewal never ends"),
    }
}

/// The jobs of the items of a `full_text` feed that its ingest claimed
/// (new to the store, with a link; see `Store::ingest_claiming`): the feed's
/// config and the poll context shared by all of them.
fn full_text_jobs(
    feed: &FeedConfig,
    items: &[crate::item::Item],
    claimed: &[crate::item::ItemKey],
    hold_until: i64,
    ctx: &PollContext,
) -> Vec<crate::fulltext::Job> {
    if claimed.is_empty() {
        return Vec::new();
    }
    let claimed: std::collections::HashSet<&crate::item::ItemKey> = claimed.iter().collect();
    let (shared_feed, shared_ctx) = (Arc::new(feed.clone()), Arc::new(ctx.clone()));
    items
        .iter()
        .filter(|item| claimed.contains(&item.key))
        .filter_map(|item| {
            Some(crate::fulltext::Job {
                key: item.key.clone(),
                link: Url::parse(item.link.as_deref()?).ok()?,
                feed: shared_feed.clone(),
                hold_until,
                ctx: shared_ctx.clone(),
            })
        })
        .collect()
}

/// Polls every configured feed once, within the concurrency limits.
pub async fn poll_all(ctx: &PollContext, config: &Config) -> (PollReport, Vec<FeedReport>) {
    // Feeds are started a window at a time rather than all at once: a
    // waiting poll is a task of a few KB (28 MB at 10,000 feeds), and only
    // `concurrency` of them can fetch anyway. The order alternates hosts so
    // that a window is never filled by one host's feeds waiting on its
    // `per_host` limit while other hosts idle.
    let window = 2 * (config.poll.concurrency + body_slots());
    let mut pending = interleave_hosts(&config.feeds).into_iter();
    let mut tasks = JoinSet::new();
    let mut report = PollReport::default();
    let mut feeds = Vec::new();
    loop {
        while tasks.len() < window {
            let Some(feed) = pending.next() else { break };
            let (ctx, feed) = (ctx.clone(), feed.clone());
            let interval = config.interval_of(&feed);
            tasks.spawn(async move { poll_feed(&ctx, &feed, interval).await });
        }
        let Some(r) = tasks.join_next().await else { break };
        let r = r.expect("poll tasks do not panic");
        report.add(&r);
        feeds.push(r);
    }
    (report, feeds)
}

/// The feeds in an order that takes one feed of each host in turn (hosts in
/// order of first appearance, each host's feeds in config order).
fn interleave_hosts(feeds: &[FeedConfig]) -> Vec<&FeedConfig> {
    let mut hosts: Vec<std::collections::VecDeque<&FeedConfig>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for feed in feeds {
        let host = feed.url.host_str().unwrap_or_default();
        let i = *index.entry(host).or_insert_with(|| {
            hosts.push(std::collections::VecDeque::new());
            hosts.len() - 1
        });
        hosts[i].push_back(feed);
    }
    let mut out = Vec::with_capacity(feeds.len());
    while out.len() < feeds.len() {
        for host in &mut hosts {
            if let Some(feed) = host.pop_front() {
                out.push(feed);
            }
        }
    }
    out
}

/// What a start needs of a feed's saved state to schedule it.
#[derive(Clone, Copy, Debug)]
enum Saved {
    Gone,
    Due(i64),
}

/// Every feed's saved due time, from one walk of the store on a blocking
/// thread. With 100,000 feeds a lookup per feed took about a minute on a
/// cold store cache, on a runtime thread, while the loop (not yet turning)
/// counted as stalled for `/healthz`; the walk beats the heartbeat as it
/// goes.
async fn saved_due(store: &Store, heartbeat: &Arc<Heartbeat>) -> HashMap<String, Saved> {
    let (store, heartbeat) = (store.clone(), heartbeat.clone());
    tokio::task::spawn_blocking(move || {
        let mut saved = HashMap::new();
        let mut walked = 0usize;
        let result = store.for_each_feed_state(|url, s| {
            walked += 1;
            if walked % 1024 == 0 {
                heartbeat.beat();
            }
            let v = if s.gone {
                Some(Saved::Gone)
            } else {
                s.next_due.map(Saved::Due)
            };
            if let Some(v) = v {
                saved.insert(url.to_owned(), v);
            }
            true
        });
        if let Err(e) = result {
            warn!(error = %e, "Cannot read the saved due times; feeds not read are scheduled as new.");
        }
        saved
    })
    .await
    .unwrap_or_default()
}

/// When a feed is first due after a start (or after a reload adds it): its
/// stored due time; a feed that was gone is tried again now; a feed never
/// polled gets a stable slot within `[poll] first_poll_spread`.
fn initial_due(
    saved: Option<Saved>,
    config: &Config,
    feed: &FeedConfig,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match saved {
        Some(Saved::Gone) => now,
        Some(Saved::Due(t)) => DateTime::from_timestamp(t, 0).unwrap_or(now),
        None => add(
            now,
            config
                .poll
                .first_poll_spread
                .mul_f64(fraction(feed.url.as_str(), 0)),
        ),
    }
}

/// Liveness of the scheduler loop, for the systemd watchdog: the loop
/// stamps it on every turn, and turns at least every [`HEARTBEAT`].
#[derive(Debug)]
pub struct Heartbeat {
    start: std::time::Instant,
    millis: std::sync::atomic::AtomicU64,
}

/// The scheduler loop turns at least this often, even with nothing due.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

impl Default for Heartbeat {
    fn default() -> Heartbeat {
        Heartbeat {
            start: std::time::Instant::now(),
            millis: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Heartbeat {
    fn beat(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.millis.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// How long since the loop last turned.
    pub fn age(&self) -> Duration {
        let last = Duration::from_millis(self.millis.load(std::sync::atomic::Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// What the scheduler needs besides the config.
pub struct Scheduler {
    pub store: Store,
    pub clock: SharedClock,
    pub changed: Arc<Notify>,
    pub reports: broadcast::Sender<FeedReport>,
    pub heartbeat: Arc<Heartbeat>,
    /// Counts completed poll rounds (a round ends when no poll is in flight).
    pub rounds: Arc<std::sync::atomic::AtomicU64>,
    /// Counts polls that saved a new site link for their feed; bumped
    /// before `changed` is notified. The renderer reads every feed's site
    /// link (one walk of all feed states, plus the OPML) only when this
    /// moved: with 100,000 feeds that walk was most of every render, and
    /// renders run back to back while a round brings items (BENCHMARKS.md,
    /// Run 14).
    pub site_links: Arc<std::sync::atomic::AtomicU64>,
}

/// The daemon's scheduler: polls each feed when it is due until `cancel`
/// fires. Calls `changed.notify_one()` whenever the store gained items and
/// sends every report to `reports` (for status, metrics and tests).
///
/// Follows `config`: a reload adds feeds (polled promptly), drops removed
/// ones (an in-flight poll finishes; it is not cut), reschedules feeds whose
/// interval changed, and applies new `[poll]` limits to polls that start
/// afterwards.
pub async fn run(
    s: Scheduler,
    mut config: tokio::sync::watch::Receiver<Arc<Config>>,
    cancel: CancellationToken,
) {
    let Scheduler {
        store,
        clock,
        changed,
        reports,
        heartbeat,
        rounds,
        site_links,
    } = s;
    let mut current = config.borrow_and_update().clone();
    // Feeds by URL: with tens of thousands of feeds, looking each due feed
    // up in the list made a restart quadratic.
    let mut by_url = index_feeds(&current);
    let mut ctx = match Fetcher::new(&current.poll) {
        Ok(f) => PollContext::new(store.clone(), f, clock.clone(), &current),
        Err(e) => {
            tracing::error!(error = %e, "Cannot build the HTTP client; not polling.");
            return;
        }
    };
    ctx.full_text = Some(crate::fulltext::start(
        ctx.clone(),
        &current,
        changed.clone(),
        cancel.clone(),
    ));
    let saved = tokio::select! {
        saved = saved_due(&store, &heartbeat) => saved,
        _ = cancel.cancelled() => return,
    };
    let now = clock.now();
    let mut due = Schedule::default();
    for f in &current.feeds {
        let url = f.url.as_str();
        let at = initial_due(saved.get(url).copied(), &current, f, now);
        due.insert(url, at, by_url[url].rank);
    }
    drop(saved);
    let mut in_flight: HashSet<String> = HashSet::new();
    let mut tasks: JoinSet<Polled> = JoinSet::new();
    let mut round = PollReport::default();
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if stall_requested() {
        // Fault injection for the watchdog test: the loop stops turning (as
        // a deadlocked poller would) but still honours shutdown.
        warn!("FEEDWIRE_TEST_STALL_POLLER is set: the poller loop is stalled.");
        cancel.cancelled().await;
        return;
    }
    // A change the select below saw (which marks it seen).
    let mut reloaded = false;
    loop {
        heartbeat.beat();
        // A reload is applied before anything is popped: a feed due after
        // the reload returned is polled on the new config (its interval,
        // which a sped-up feed starts again from), however the wake-ups of
        // this turn raced.
        if std::mem::take(&mut reloaded) || config.has_changed().unwrap_or(false) {
            let new = config.borrow_and_update().clone();
            if !Arc::ptr_eq(&new, &current) {
                let new_index = index_feeds(&new);
                reschedule(
                    &store,
                    &current,
                    &new,
                    &new_index,
                    &mut due,
                    &in_flight,
                    clock.now(),
                );
                match Fetcher::new(&new.poll) {
                    Ok(f) => {
                        let full_text = ctx.full_text.take();
                        ctx = PollContext::new(store.clone(), f, clock.clone(), &new);
                        ctx.full_text = full_text;
                    }
                    Err(e) => warn!(error = %e, "Cannot rebuild the HTTP client; keeping the previous one."),
                }
                current = new;
                by_url = new_index;
            }
        }
        let now = clock.now();
        // At most a window of polls at once (see `poll_all`); the others stay
        // due and start as polls finish, the longest overdue first.
        let window = 2 * (current.poll.concurrency + body_slots());
        let room = window.saturating_sub(tasks.len());
        // Taking a feed out of the schedule: a feed in flight has no due
        // time until its poll ends.
        for url in due.pop_ready(now, room) {
            let Some(feed) = by_url.get(&*url).map(|f| current.feeds[f.pos].clone()) else {
                continue;
            };
            in_flight.insert(url.to_string());
            let ctx = ctx.clone();
            let interval = current.interval_of(&feed);
            tasks.spawn(async move { poll_leased(&ctx, &feed, interval).await });
        }
        // With the window full, feeds already due wait for a poll to end
        // (the join branch), not for their due time, which has passed.
        let next_wake = if tasks.len() >= window { None } else { due.next() };
        tokio::select! {
            _ = cancel.cancelled() => break,
            // Applied at the top of the next turn.
            Ok(()) = config.changed() => reloaded = true,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let report = match done {
                    Ok(Polled::Skipped { url, next_due }) => {
                        in_flight.remove(&url);
                        if let Some(f) = by_url.get(url.as_str()) {
                            due.insert(&url, next_due, f.rank);
                        }
                        None
                    }
                    Ok(Polled::Done(report)) => {
                        in_flight.remove(&report.url);
                        round.add(&report);
                        if report.site_changed {
                            // A new site link changes the OPML even when no
                            // item is new: worth a render of its own.
                            site_links.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            changed.notify_one();
                        }
                        if matches!(&report.outcome, Outcome::Updated { ingest, .. } if ingest.changed()) {
                            changed.notify_one();
                        }
                        // A feed removed by a reload while in flight is not rescheduled.
                        if let (Some(t), Some(f)) = (report.next_due, by_url.get(report.url.as_str())) {
                            due.insert(&report.url, t, f.rank);
                        }
                        Some(*report)
                    }
                    Err(e) => {
                        warn!(error = %e, "Poll task ended abnormally.");
                        None
                    }
                };
                if tasks.is_empty() {
                    // In a fleet a round may be all feeds other nodes polled.
                    if round != PollReport::default() {
                        // The counts `poll-once`'s summary names, as fields: what
                        // was not stored and why, and the gaps, so that an
                        // operator reading the journal sees entries that may
                        // have been missed without a line per feed.
                        info!(ok = round.feeds_ok, failed = round.feeds_failed, not_modified = round.not_modified,
                              new = round.items_new, duplicate = round.items_duplicate, revised = round.items_revised,
                              no_entries = round.feeds_no_entries, gaps = round.open_gaps(), gaps_closed = round.feeds_gap_closed,
                              recovered = round.items_recovered, too_old = round.items_too_old,
                              over_limit = round.items_over_limit, empty = round.items_empty, "Poll round done.");
                    }
                    round = PollReport::default();
                    rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // The round's bodies and buffers are free now: give the
                    // pages back, so the daemon rests at its resting size.
                    crate::memory::release();
                }
                // Sent last: whoever sees a round's final report also sees
                // the round counted (readiness).
                if let Some(report) = report {
                    let _ = reports.send(report);
                }
            }
            _ = sleep_until(&clock, next_wake) => {}
            _ = tick.tick() => {}
        }
    }
    debug!("Poller stopped.");
}

/// Where a configured feed is in the config, and its turn among feeds due
/// at the same moment.
#[derive(Clone, Copy, Debug)]
struct Indexed {
    pos: usize,
    /// Position in [`interleave_hosts`] order: feeds due at once (a start
    /// with `first_poll_spread = 0`, a round after an outage) start one
    /// host after another, so that the window is not filled by one host's
    /// feeds queueing on its `per_host` limit while other hosts idle.
    rank: u64,
}

/// The configured feeds by URL.
fn index_feeds(config: &Config) -> HashMap<String, Indexed> {
    let pos: HashMap<&str, usize> = config
        .feeds
        .iter()
        .enumerate()
        .map(|(i, f)| (f.url.as_str(), i))
        .collect();
    interleave_hosts(&config.feeds)
        .into_iter()
        .enumerate()
        .map(|(rank, f)| {
            let url = f.url.as_str();
            (
                url.to_owned(),
                Indexed {
                    pos: pos[url],
                    rank: rank as u64,
                },
            )
        })
        .collect()
}

/// When each idle feed is due: a min-heap of due times over a map from
/// feed to its current due time. Every poll ends with a reschedule, so the
/// loop must not scan all feeds per poll: with a scan, a round of 100,000
/// feeds cost 100,000 scans of 100,000 entries. Here a poll costs
/// O(log feeds). A reschedule leaves the old heap entry behind; it is
/// skipped when it surfaces (its generation is no longer the feed's), and
/// the heap is rebuilt when such stale entries outnumber live ones.
#[derive(Default)]
struct Schedule {
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Due>>,
    due: HashMap<Arc<str>, (DateTime<Utc>, u64, u64)>,
    generation: u64,
}

/// One heap entry; ordered by time, then rank (see [`Indexed::rank`]).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: DateTime<Utc>,
    rank: u64,
    generation: u64,
    url: Arc<str>,
}

impl Schedule {
    /// Sets (or moves) the feed's due time.
    fn insert(&mut self, url: &str, at: DateTime<Utc>, rank: u64) {
        self.generation += 1;
        let url: Arc<str> = match self.due.get_key_value(url) {
            Some((k, _)) => k.clone(),
            None => url.into(),
        };
        self.due.insert(url.clone(), (at, rank, self.generation));
        self.heap.push(std::cmp::Reverse(Due {
            at,
            rank,
            generation: self.generation,
            url,
        }));
        if self.heap.len() > 2 * self.due.len() + 1024 {
            self.rebuild();
        }
    }

    fn get(&self, url: &str) -> Option<DateTime<Utc>> {
        self.due.get(url).map(|&(at, _, _)| at)
    }

    fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.due.retain(|url, _| keep(url));
    }

    /// Whether the heap's top entry is the feed's current due time.
    fn live(&self, d: &Due) -> bool {
        self.due.get(&d.url).is_some_and(|&(_, _, g)| g == d.generation)
    }

    /// Takes up to `max` feeds due at `now` out of the schedule, earliest
    /// (then lowest rank) first.
    fn pop_ready(&mut self, now: DateTime<Utc>, max: usize) -> Vec<Arc<str>> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.heap.peek() {
                Some(std::cmp::Reverse(d)) if d.at <= now => {}
                _ => break,
            }
            let std::cmp::Reverse(d) = self.heap.pop().expect("peeked");
            if self.live(&d) {
                self.due.remove(&d.url);
                out.push(d.url);
            }
        }
        out
    }

    /// The earliest due time, if any feed is scheduled.
    fn next(&mut self) -> Option<DateTime<Utc>> {
        while let Some(std::cmp::Reverse(d)) = self.heap.peek() {
            if self.live(d) {
                return Some(d.at);
            }
            self.heap.pop();
        }
        None
    }

    fn rebuild(&mut self) {
        self.heap = self
            .due
            .iter()
            .map(|(url, &(at, rank, generation))| {
                std::cmp::Reverse(Due {
                    at,
                    rank,
                    generation,
                    url: url.clone(),
                })
            })
            .collect();
    }
}

/// `FEEDWIRE_TEST_STALL_POLLER=1` stalls the scheduler loop, to test that
/// the watchdog then stops being pinged. Debug builds only: a release binary
/// ignores it.
fn stall_requested() -> bool {
    cfg!(debug_assertions) && std::env::var_os("FEEDWIRE_TEST_STALL_POLLER").is_some_and(|v| v == "1")
}

/// Applies a new feed list to the schedule.
fn reschedule(
    store: &Store,
    old: &Config,
    new: &Config,
    new_index: &HashMap<String, Indexed>,
    due: &mut Schedule,
    in_flight: &HashSet<String>,
    now: DateTime<Utc>,
) {
    due.retain(|url| new_index.contains_key(url));
    let old_feeds: HashMap<&str, &FeedConfig> = old.feeds.iter().map(|f| (f.url.as_str(), f)).collect();
    for feed in &new.feeds {
        let url = feed.url.as_str();
        if in_flight.contains(url) {
            continue;
        }
        let rank = new_index[url].rank;
        match old_feeds.get(url) {
            // New feeds are polled promptly.
            None => due.insert(url, now, rank),
            Some(prev) if old.interval_of(prev) != new.interval_of(feed) => {
                // Due one new interval after the last attempt, never in the past.
                let last = store
                    .feed_state(url)
                    .ok()
                    .flatten()
                    .and_then(|s| s.last_attempt)
                    .and_then(|t| DateTime::from_timestamp(t, 0));
                let t = match last {
                    Some(last) => add(last, new.interval_of(feed)).max(now),
                    None => now,
                };
                let t = due.get(url).map_or(t, |prev| prev.min(t));
                due.insert(url, t, rank);
            }
            // Same feed, same interval: the rank may move with the new
            // order; the due time stays.
            Some(_) => {
                if let Some(t) = due.get(url) {
                    due.insert(url, t, rank);
                }
            }
        }
    }
}

async fn sleep_until(clock: &SharedClock, t: Option<DateTime<Utc>>) {
    match t {
        Some(t) => clock.sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let i = Duration::from_secs(900);
        assert_eq!(backoff(i, 1, 0.0), Duration::from_secs(225));
        assert_eq!(backoff(i, 2, 0.0), Duration::from_secs(450));
        assert_eq!(backoff(i, 3, 0.0), Duration::from_secs(900));
        assert_eq!(backoff(i, 30, 0.0), MAX_BACKOFF);
        assert_eq!(backoff(i, 30, 0.999), MAX_BACKOFF.mul_f64(1.0999));
        // Short intervals still wait at least a minute.
        assert_eq!(backoff(Duration::from_secs(60), 1, 0.0), Duration::from_secs(60));
    }

    #[test]
    fn refresh_respects_publisher_and_bounds() {
        let (min, max) = (Duration::from_secs(60), Duration::from_secs(86_400));
        let i = Duration::from_secs(600);
        assert_eq!(refresh(i, None, min, max, 0.0), i);
        assert_eq!(
            refresh(i, Some(Duration::from_secs(3600)), min, max, 0.0),
            Duration::from_secs(3600)
        );
        assert_eq!(
            refresh(i, Some(Duration::from_secs(60)), min, max, 0.0),
            i,
            "never more often than configured"
        );
        assert_eq!(
            refresh(i, Some(Duration::from_secs(30 * 86_400)), min, max, 0.0),
            max
        );
        assert!(refresh(i, None, min, max, 0.5) > i);
    }

    #[test]
    fn outage_needs_several_hosts() {
        let mut d = OutageDetector {
            hosts_total: 5,
            failing: HashSet::new(),
        };
        assert!(!d.network_failure("a"));
        assert!(!d.network_failure("a"));
        assert!(!d.network_failure("b"));
        assert!(d.network_failure("c"));
        d.success();
        assert!(!d.network_failure("c"));
        let mut single = OutageDetector {
            hosts_total: 1,
            failing: HashSet::new(),
        };
        assert!(!single.network_failure("a"));
    }

    #[test]
    fn interleave_takes_one_feed_per_host_in_turn() {
        let urls = [
            "https://a.example/1",
            "https://a.example/2",
            "https://a.example/3",
            "https://b.example/1",
            "https://xn--mgbh0fb.example/1",
            "https://b.example/2",
        ];
        let mut text = String::from("[[output]]\nname = \"all\"\n\n");
        for (i, url) in urls.iter().enumerate() {
            text.push_str(&format!("[[feed]]\nurl = {url:?}\nname = \"مصدر {i}\"\n\n"));
        }
        let config = Config::parse_with(std::path::Path::new("feeds.toml"), &text, None).unwrap();
        let feeds = config.feeds;
        let order: Vec<&str> = interleave_hosts(&feeds).iter().map(|f| f.url.as_str()).collect();
        assert_eq!(
            order,
            [
                "https://a.example/1",
                "https://b.example/1",
                "https://xn--mgbh0fb.example/1",
                "https://a.example/2",
                "https://b.example/2",
                "https://a.example/3",
            ]
        );
        assert!(interleave_hosts(&[]).is_empty());
    }

    #[test]
    fn schedule_pops_earliest_then_rank_and_skips_moved_feeds() {
        let t0 = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let mut due = Schedule::default();
        due.insert("https://b.example/", at(0), 2);
        due.insert("https://a.example/", at(0), 1);
        due.insert("https://c.example/", at(5), 0);
        due.insert("https://d.example/أخبار", at(1), 3);
        // Moved later: its old entry (at 0) must not make it due now.
        due.insert("https://b.example/", at(30), 2);
        assert_eq!(due.next(), Some(at(0)));
        let urls = |v: Vec<Arc<str>>| v.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        assert_eq!(
            urls(due.pop_ready(at(1), 10)),
            ["https://a.example/", "https://d.example/أخبار"]
        );
        assert_eq!(due.next(), Some(at(5)));
        assert_eq!(
            due.get("https://a.example/"),
            None,
            "a popped feed is in flight, not due"
        );
        // A window of one takes one feed; the rest stay due.
        due.insert("https://a.example/", at(2), 1);
        assert_eq!(urls(due.pop_ready(at(10), 1)), ["https://a.example/"]);
        assert_eq!(urls(due.pop_ready(at(10), 10)), ["https://c.example/"]);
        due.retain(|u| u != "https://b.example/");
        assert_eq!(due.next(), None, "a removed feed is never due");
        assert!(due.pop_ready(at(100), 10).is_empty());
    }

    #[test]
    fn schedule_stays_small_when_feeds_are_rescheduled_often() {
        let t0 = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
        let mut due = Schedule::default();
        for round in 0..50i64 {
            for i in 0..100u64 {
                let t = t0 + chrono::Duration::seconds(round * 1000 + i as i64);
                due.insert(&format!("https://h{}.example/{i}", i % 7), t, i);
            }
        }
        assert!(
            due.heap.len() <= 2 * 100 + 1024,
            "stale entries are dropped: {}",
            due.heap.len()
        );
        let all = due.pop_ready(t0 + chrono::Duration::days(1), usize::MAX);
        assert_eq!(all.len(), 100, "each feed once, at its last due time");
        assert_eq!(&*all[0], "https://h0.example/0");
        assert!(due.heap.is_empty() || due.next().is_none());
    }

    #[test]
    fn fractions_are_stable_and_spread() {
        assert_eq!(fraction("https://a/", 1), fraction("https://a/", 1));
        let fs: Vec<f64> = (0..100)
            .map(|i| fraction(&format!("https://feed/{i}"), 0))
            .collect();
        assert!(fs.iter().all(|f| (0.0..1.0).contains(f)));
        assert!(fs.iter().any(|f| *f < 0.3) && fs.iter().any(|f| *f > 0.7));
    }
}
