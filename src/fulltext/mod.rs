//! The full-text task: fetches each new item's page for feeds with
//! `full_text = true`, extracts the article (`extract`) and stores it with
//! the item (`store`).
//!
//! It runs beside the poller and never blocks it: the poller claims new
//! items in the store (which holds them back from outputs) and sends them
//! here over a channel. Each item waits at most its feed's
//! `full_text_timeout` (checked every [`RELEASE_TICK`]; `poll-once`, which
//! renders once, ends every hold itself, see [`Holds`]); then it is released
//! and published with the feed's content, and updated when the article
//! lands. At most [`concurrency()`] pages are in flight; the backlog waits in
//! the channel as small jobs, not as tasks. Page fetches go through the
//! poller's `Fetcher` (same User-Agent, SSRF guard on every hop, body cap,
//! timeout, redirect rules) and take a slot of the same per-host limit as
//! feed polls. A site whose pages keep failing backs off exponentially, as a
//! failing feed does, and the backoff is stored with the site (both
//! backends), so a restart leaves it alone too. Claims are stored, so after a restart pending items are
//! resumed and finished ones are never fetched again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use crate::config::{Config, FeedConfig};
use crate::extract::extract;
use crate::fetch::{FetchError, Validators};
use crate::item::ItemKey;
use crate::poller::PollContext;
use crate::store::SiteBackoff as StoredBackoff;

mod teaser;
pub use teaser::{is_teaser, CUT_WORDS, TEASER_WORDS};

/// Pages in flight at once (two per core, as feed bodies): the per-host
/// limit applies within it. Reading a body takes one of the poller's body
/// slots and extracting it one of its per-core CPU slots, the same ones feed
/// documents take, so that with `full_text` on every feed the daemon holds
/// no more documents or DOM trees at once than without.
pub fn concurrency() -> usize {
    2 * std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// Extraction threads: one per two cores, at least one. Each extraction
/// also takes one of the per-core CPU slots shared with feed parsing, so
/// this bounds how many article DOMs exist at once, and leaves the other
/// cores to polls during a cold round's backlog. On two cores one thread
/// extracted as many articles per second as two in the full-text farm (the
/// cores were busy parsing anyway), with ~8 MiB less resident: one DOM
/// and one set of the extractor's regex caches instead of two
/// (BENCHMARKS.md, Run 7).
fn extractors() -> usize {
    (std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get) / 2).max(1)
}

/// Threads of the task's own, the same ones for the life of the task:
/// extractions run on [`extractors`] threads, the task's store reads and
/// writes on one more.
/// On tokio's blocking pool, a burst spread this work over every pool
/// thread (18 in the full-text farm): each thread that ran the extractor's
/// regexes got caches of its own in their pools (about 29 MB live at the
/// farm's peak, BENCHMARKS.md, Run 5), and each thread that wrote to sled
/// left the pages it built in a glibc arena of its own (Run 6). The
/// threads end when the task and its jobs have let go.
struct Workers {
    queue: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl Workers {
    fn start(name: &str, threads: usize) -> Workers {
        let (queue, work) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let work = Arc::new(Mutex::new(work));
        for i in 0..threads {
            let work = work.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || loop {
                    let next = work.lock().expect("lock poisoned").recv();
                    let Ok(f) = next else { break };
                    // A panic fails its one page (the caller sees the
                    // answer dropped), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
                });
            if let Err(e) = spawned {
                warn!(error = %e, thread = name, "Cannot start a full-text thread.");
            }
        }
        Workers { queue }
    }

    /// Runs `f` on one of the threads; `None` if it panicked (or no thread
    /// could be started).
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.queue
            .send(Box::new(move || {
                let _ = answer.send(f());
            }))
            .ok()?;
        answered.await.ok()
    }
}

/// Pages extracted between two allocator trims during a long burst.
const TRIM_EVERY: usize = 512;

/// How often held items are checked against their `full_text_timeout`.
pub const RELEASE_TICK: Duration = Duration::from_secs(1);

/// One item whose page is to be fetched. The backlog is a queue of these:
/// a key and a link each, with the feed's config and the poller's context
/// shared by all jobs of one document (a burst of 40,000 new items costs a
/// few MB, not a copy of the feed's config per item).
#[derive(Clone)]
pub struct Job {
    pub key: ItemKey,
    pub link: Url,
    pub feed: Arc<FeedConfig>,
    /// Unix seconds until which the item is held back.
    pub hold_until: i64,
    /// The poller's context when the item was found: fetcher, clock and the
    /// per-host limits, body and CPU slots shared with feed polls.
    pub ctx: Arc<PollContext>,
}

/// Jobs queued in memory at most. A cold round finds tens of thousands of
/// new items at once (44,398 in the full-text farm, 16 MB as queued jobs);
/// beyond this bound they stay where they already are, as pending claims
/// in the store, and the task reads them back a page at a time when the
/// queue runs dry.
pub const QUEUE: usize = 1024;
/// Pending claims read back from the store at once.
const PAGE: usize = 256;

/// Where the poller hands new items' jobs to the task. Cheap to clone.
#[derive(Clone)]
pub struct JobSender {
    queue: mpsc::Sender<Job>,
    spill: Arc<Spill>,
    /// Whether items are held back while their page is fetched (see
    /// [`Holds::Never`]).
    hold: bool,
}

/// Jobs left in the store because the queue was full.
#[derive(Default)]
struct Spill {
    /// Set when a job was left in the store since the task last started a
    /// pass over the pending claims.
    on: std::sync::atomic::AtomicBool,
    /// Each feed's config and poll context, for the jobs read back (the
    /// feed's latest, as the poller last handed it over).
    feeds: Mutex<HashMap<String, FeedJobParts>>,
}

/// What the jobs of one feed share.
type FeedJobParts = (Arc<FeedConfig>, Arc<PollContext>);

impl Spill {
    fn remember(&self, job: &Job) {
        let mut feeds = self.feeds.lock().expect("lock poisoned");
        match feeds.get(job.feed.url.as_str()) {
            Some((feed, ctx)) if Arc::ptr_eq(feed, &job.feed) && Arc::ptr_eq(ctx, &job.ctx) => {}
            _ => {
                feeds.insert(
                    job.feed.url.as_str().to_owned(),
                    (job.feed.clone(), job.ctx.clone()),
                );
            }
        }
    }
}

impl JobSender {
    /// Whether the poller claims new items with a hold
    /// ([`crate::store::FullTextClaim::hold`]).
    pub fn holds(&self) -> bool {
        self.hold
    }

    /// Queues a claimed item's job; never waits. False when the queue was
    /// full and the job was left in the store (as its pending claim), to be
    /// read back later.
    pub fn send(&self, job: Job) -> bool {
        use std::sync::atomic::Ordering;
        if self.spill.on.load(Ordering::SeqCst) {
            // Behind jobs already left in the store: keep the order.
            self.spill.remember(&job);
            self.spill.on.store(true, Ordering::SeqCst);
            return false;
        }
        match self.queue.try_send(job) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(job)) => {
                self.spill.remember(&job);
                self.spill.on.store(true, Ordering::SeqCst);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// Sites whose pages failed: how often in a row, and until when (Unix
/// seconds, on the injected clock) they are left alone. Kept in memory for
/// the checks and written through to the store, so that a restart does not
/// hammer a struggling site again.
struct SiteBackoff {
    sites: Mutex<HashMap<String, StoredBackoff>>,
    store: crate::store::Store,
    clock: crate::clock::SharedClock,
}

impl SiteBackoff {
    fn load(store: crate::store::Store, clock: crate::clock::SharedClock) -> SiteBackoff {
        let sites = store.site_backoffs().unwrap_or_else(|e| {
            warn!(error = %e, "Cannot read the sites' full-text backoff; starting without it.");
            Vec::new()
        });
        SiteBackoff {
            sites: Mutex::new(sites.into_iter().collect()),
            store,
            clock,
        }
    }

    fn blocked(&self, host: &str) -> Option<(u32, i64)> {
        let now = self.clock.now().timestamp();
        let sites = self.sites.lock().expect("lock poisoned");
        sites
            .get(host)
            .filter(|b| b.until > now)
            .map(|b| (b.failures, b.until))
    }

    async fn failed(&self, host: &str) {
        let now = self.clock.now().timestamp();
        let record = {
            let mut sites = self.sites.lock().expect("lock poisoned");
            let entry = sites.entry(host.to_owned()).or_insert(StoredBackoff {
                failures: 0,
                until: now,
            });
            entry.failures += 1;
            let wait = Duration::from_secs(60)
                .saturating_mul(2u32.saturating_pow(entry.failures.saturating_sub(1).min(16)))
                .min(crate::poller::MAX_BACKOFF);
            entry.until = now + i64::try_from(wait.as_secs()).unwrap_or(i64::MAX);
            entry.clone()
        };
        self.persist(host, Some(record)).await;
    }

    async fn succeeded(&self, host: &str) {
        let was = self.sites.lock().expect("lock poisoned").remove(host);
        if was.is_some() {
            self.persist(host, None).await;
        }
    }

    async fn persist(&self, host: &str, record: Option<StoredBackoff>) {
        let (store, h) = (self.store.clone(), host.to_owned());
        let written = tokio::task::spawn_blocking(move || store.put_site_backoff(&h, record.as_ref())).await;
        if let Ok(Err(e)) = written {
            warn!(%host, error = %e, "Cannot store the site's full-text backoff.");
        }
    }
}

/// Starts the task; returns the sender the poller queues jobs on. Items
/// left pending by a previous run are resumed from the store (their feed
/// must still have `full_text = true`; others are released).
pub fn start(
    ctx: PollContext,
    config: &Config,
    changed: Arc<Notify>,
    cancel: CancellationToken,
) -> JobSender {
    start_when(ctx, config, changed, cancel, std::future::ready(()), Holds::Tick)
}

/// Who ends the holds of items whose article is late.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    /// The task, every [`RELEASE_TICK`]: the daemon, whose renders publish
    /// a late item with its feed's content as soon as its wait is over.
    Tick,
    /// The caller, all together when it stops waiting: `poll-once`, which
    /// renders once, at its end, so a hold ended earlier changes nothing
    /// it publishes. There the tick only walked every held key each
    /// second (tens of thousands in a cold round) to find none due, and
    /// pulled the held tree's pages through the store's cache while the
    /// round was storing its own (BENCHMARKS.md, Run 11).
    Caller,
    /// None is taken: items are claimed for their pages without a hold, and
    /// the caller counts those still pending as fallbacks when it stops
    /// waiting (`Store::end_full_text_holds`); if it is killed first, the
    /// next `poll-once` counts them at its end, or the daemon when it
    /// starts (`Store::settle_unheld_full_text`). `poll-once` on a store no
    /// other process can render from meanwhile (`Store::renders_alone`):
    /// its one render follows the wait, so a hold would change nothing it
    /// publishes, and the held entries (one per new item, written in the
    /// round) and their release at the end were the largest full-text part
    /// of its peak (BENCHMARKS.md, Run 13).
    Never,
}

/// [`start`], but no page is fetched before `begin` completes: until then
/// jobs wait as in a backlog (the first [`QUEUE`] in the channel, the rest
/// as pending claims in the store), and `holds` says who ends the holds
/// of late items. `poll-once` begins once its round is stored, or once
/// half its wait is gone, so that a cold round's extraction does not stack
/// its memory on the polling's, and ends the holds itself (BENCHMARKS.md,
/// Run 11); the daemon begins at once and ticks.
pub fn start_when(
    ctx: PollContext,
    config: &Config,
    changed: Arc<Notify>,
    cancel: CancellationToken,
    begin: impl std::future::Future<Output = ()> + Send + 'static,
    holds: Holds,
) -> JobSender {
    let (queue, mut rx) = mpsc::channel::<Job>(QUEUE);
    let concurrency = concurrency();
    let slots = Arc::new(Semaphore::new(concurrency));
    let shared_ctx = Arc::new(ctx.clone());
    let backoff = Arc::new(SiteBackoff::load(ctx.store.clone(), ctx.clock.clone()));
    // Items left pending by a previous run are read back like jobs left in
    // the store by a full queue: by a pass over the pending claims, the
    // first one starting at once.
    let spill = Arc::new(Spill::default());
    {
        let mut feeds = spill.feeds.lock().expect("lock poisoned");
        for feed in config.feeds.iter().filter(|f| f.full_text.is_some()) {
            feeds.insert(
                feed.url.as_str().to_owned(),
                (Arc::new(feed.clone()), shared_ctx.clone()),
            );
        }
    }
    let tx = JobSender {
        queue,
        spill: spill.clone(),
        hold: holds != Holds::Never,
    };
    // The task's store reads and writes, on one thread of its own.
    let store_thread = Arc::new(Workers::start("ft-store", 1));
    let changed = render_requests(changed, cancel.clone());
    // Holds end on a clock tick rather than a timer per item, so that a
    // burst of new items costs a queued job each, not a sleeping task.
    if holds == Holds::Tick {
        tokio::spawn({
            let (store, clock, changed, cancel, store_thread) = (
                ctx.store.clone(),
                ctx.clock.clone(),
                changed.clone(),
                cancel.clone(),
                store_thread.clone(),
            );
            async move {
                // Claims a `poll-once` killed before its end took without a
                // hold: published by the daemon's renders from the start,
                // so counted as fallbacks now (once: the next run does not
                // count them again).
                let settle = store.clone();
                match store_thread.run(move || settle.settle_unheld_full_text()).await {
                    Some(Ok(0)) => {}
                    Some(Ok(n)) => info!(
                        items = n,
                        "Pages an interrupted poll-once left queued: publishing the feeds' content until they land."
                    ),
                    Some(Err(e)) => warn!(error = %e, "Cannot count the pages an interrupted poll-once left queued."),
                    None => warn!("Full-text release task ended abnormally."),
                }
                let mut tick = tokio::time::interval(RELEASE_TICK);
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    let (store, now) = (store.clone(), clock.now().timestamp());
                    match store_thread
                        .run(move || store.release_expired_full_text(now))
                        .await
                    {
                        Some(Ok(0)) => {}
                        Some(Ok(n)) => {
                            debug!(
                                items = n,
                                "Full text not ready in time; publishing the feeds' content."
                            );
                            changed.notify_one();
                        }
                        Some(Err(e)) => warn!(error = %e, "Cannot release held full-text items."),
                        None => warn!("Full-text release task ended abnormally."),
                    }
                }
            }
        });
    }
    let (done, outcomes) = mpsc::channel(WRITE_QUEUE);
    let extractors = Arc::new(Workers::start("extract", extractors()));
    // Keys queued from the store or running, until their outcome is
    // stored: a pass over the pending claims must not start them twice.
    let running: Running = Arc::default();
    tokio::spawn(write_outcomes(
        ctx.store.clone(),
        store_thread.clone(),
        outcomes,
        changed,
        running.clone(),
    ));
    let store = ctx.store.clone();
    let clock = ctx.clock.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => return,
            () = begin => {}
        }
        // Set when a page was extracted since the allocator last gave
        // memory back; a burst ends when the queue is empty and no page is
        // in flight.
        let idle = Arc::new(Notify::new());
        let mut dirty = false;
        let mut started = 0usize;
        // A pass over the pending claims: where it is, and the jobs of the
        // page read last.
        // The first pass starts at once: claims left pending by a previous
        // run.
        let mut pass: Option<Option<ItemKey>> = Some(None);
        let mut page: std::collections::VecDeque<Job> = std::collections::VecDeque::new();
        loop {
            if pass.is_none() && spill.on.swap(false, std::sync::atomic::Ordering::SeqCst) {
                pass = Some(None);
            }
            let job = if let Ok(job) = rx.try_recv() {
                job
            } else if let Some(job) = page.pop_front() {
                job
            } else if let Some(after) = pass.take() {
                let read = read_back(&store, &store_thread, &clock, &spill, &running, after).await;
                if let Some((jobs, next)) = read {
                    page.extend(jobs);
                    pass = next.map(Some);
                }
                continue;
            } else {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    job = rx.recv() => match job { Some(j) => j, None => break },
                    _ = idle.notified(), if dirty => {
                        if rx.is_empty() && slots.available_permits() == concurrency {
                            dirty = false;
                            tokio::task::spawn_blocking(crate::memory::release);
                        }
                        continue;
                    }
                }
            };
            if !running.lock().expect("lock poisoned").insert(job.key.clone()) {
                continue;
            }
            // Waiting for a slot here leaves the backlog in the channel.
            let slot = tokio::select! {
                _ = cancel.cancelled() => break,
                slot = slots.clone().acquire_owned() => slot.expect("semaphores are never closed"),
            };
            dirty = true;
            // A cold start queues tens of thousands of pages: give memory
            // back every [`TRIM_EVERY`] pages, not only once the burst ends.
            started += 1;
            if started % TRIM_EVERY == 0 {
                tokio::task::spawn_blocking(crate::memory::release);
            }
            let (backoff, extractors, store_thread, done, cancel, idle, running) = (
                backoff.clone(),
                extractors.clone(),
                store_thread.clone(),
                done.clone(),
                cancel.clone(),
                idle.clone(),
                running.clone(),
            );
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = run_job(job, backoff, (&extractors, &store_thread), done, running) => {}
                }
                drop(slot);
                idle.notify_one();
            });
        }
        debug!("Full-text task stopped.");
    });
    tx
}

/// See [`start`]: keys being worked on, until their outcome is stored.
type Running = Arc<Mutex<std::collections::HashSet<ItemKey>>>;

/// Reads the next page of pending claims (after `after`, in key order)
/// back into jobs, passing over those queued or running. Claims of feeds
/// that no longer have `full_text` are finished as failed. Returns the
/// jobs and where the pass goes on (`None`: it is over).
async fn read_back(
    store: &crate::store::Store,
    store_thread: &Workers,
    clock: &crate::clock::SharedClock,
    spill: &Arc<Spill>,
    running: &Running,
    after: Option<ItemKey>,
) -> Option<(Vec<Job>, Option<ItemKey>)> {
    let (store, now, spill, running) = (
        store.clone(),
        clock.now().timestamp(),
        spill.clone(),
        running.clone(),
    );
    let read = store_thread
        .run(move || {
            let records = store.pending_full_text_after(after.as_ref(), PAGE)?;
            let next = (records.len() >= PAGE)
                .then(|| records.last().map(|(k, _)| k.clone()))
                .flatten();
            let mut jobs = Vec::with_capacity(records.len());
            for (key, record) in records {
                if running.lock().expect("lock poisoned").contains(&key) {
                    continue;
                }
                let feed = spill
                    .feeds
                    .lock()
                    .expect("lock poisoned")
                    .get(&record.feed_url)
                    .cloned();
                // Claimed while its document is being stored: the poller hands
                // its job over (or leaves it here again) once it is.
                let Some(item) = store.get(&key)? else {
                    continue;
                };
                let link = item.link.and_then(|l| Url::parse(&l).ok());
                match (feed, link) {
                    (Some((feed, ctx)), Some(link)) => jobs.push(Job {
                        key,
                        link,
                        feed,
                        hold_until: record.hold_until,
                        ctx,
                    }),
                    (None, _) => {
                        store.finish_full_text(
                            &key,
                            Err("full_text was turned off for the feed before the page was fetched".into()),
                            now,
                        )?;
                    }
                    (Some(_), _) => {
                        store.finish_full_text(&key, Err("the item has no link to fetch".into()), now)?;
                    }
                }
            }
            Ok::<_, crate::store::StoreError>((jobs, next))
        })
        .await;
    match read {
        Some(Ok(read)) => Some(read),
        Some(Err(e)) => {
            warn!(error = %e, "Cannot read pending full-text items back from the store.");
            None
        }
        None => {
            warn!("Full-text read-back task ended abnormally.");
            None
        }
    }
}

async fn run_job(
    job: Job,
    backoff: Arc<SiteBackoff>,
    (extractors, store_thread): (&Workers, &Workers),
    done: mpsc::Sender<Done>,
    running: Running,
) {
    // A job queued by the poller may have been read back from the store
    // and finished already (its queue was full a moment before): each
    // page is fetched once.
    let (store, key) = (job.ctx.store.clone(), job.key.clone());
    let read = store_thread
        .run(move || {
            let pending = store.full_text(&key);
            // The feed's own content, to be kept when the page's article
            // is shorter (see `extract_page`).
            let feed = store
                .get(&key)
                .ok()
                .flatten()
                .and_then(|item| item.content.or(item.summary));
            (pending, feed)
        })
        .await;
    let Some((pending, feed_content)) = read else {
        running.lock().expect("lock poisoned").remove(&job.key);
        return;
    };
    if !matches!(pending, Ok(Some(ref r)) if r.state == crate::store::FullTextState::Pending) {
        running.lock().expect("lock poisoned").remove(&job.key);
        return;
    }
    let outcome = extract_page(&job, feed_content, &backoff, extractors).await;
    if let Err(error) = &outcome {
        warn!(feed = %job.feed.name, link = %job.link, %error, "Full-text extraction failed; keeping the feed's content.");
    }
    // Waits while the writer is [`WRITE_QUEUE`] outcomes behind, holding
    // this job's page slot: extraction never runs ahead of the store.
    let _ = done.send(Done { job, outcome }).await;
}

/// One extraction's outcome, on its way to the store.
struct Done {
    job: Job,
    outcome: Result<String, String>,
}

/// How often, at most, the task asks for a render while articles land
/// or holds end.
pub const RENDER_EVERY: Duration = Duration::from_secs(1);

/// Asks the renderer for a render on the task's behalf, at once for the
/// first change and then at most once per [`RENDER_EVERY`]: returns the
/// `Notify` the task signals its changes on. During a cold round's backlog
/// the writer stores a batch every few milliseconds, and every render it
/// asked for read the output's items, wrote each format and compressed it
/// twice (gzip and brotli): the largest CPU cost of the burst, and memory
/// held while it ran (BENCHMARKS.md, Run 6). Landings during the pause
/// make one render after it.
fn render_requests(changed: Arc<Notify>, cancel: CancellationToken) -> Arc<Notify> {
    let landed = Arc::new(Notify::new());
    tokio::spawn({
        let landed = landed.clone();
        async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = landed.notified() => {}
                }
                changed.notify_one();
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(RENDER_EVERY) => {}
                }
            }
        }
    });
    landed
}

/// Outcomes stored in one transaction at most.
const WRITE_BATCH: usize = 64;
/// Outcomes waiting for the writer before extractions wait for it.
const WRITE_QUEUE: usize = 2 * WRITE_BATCH;

/// The writer: stores every outcome waiting at that moment in one batch
/// (at most [`WRITE_BATCH`]), as ingest's group commit does for documents,
/// on the task's store thread. Nothing waits to fill a batch: an article
/// lands one write after it was extracted (and is published at the next
/// render, see [`render_requests`]). Ends when every job and the task have
/// dropped their senders.
async fn write_outcomes(
    store: crate::store::Store,
    store_thread: Arc<Workers>,
    mut rx: mpsc::Receiver<Done>,
    changed: Arc<Notify>,
    running: Running,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let now = batch[0].job.ctx.clock.now().timestamp();
        let outcomes: Vec<(ItemKey, Result<String, String>)> = batch
            .iter_mut()
            .map(|d| {
                (
                    d.job.key.clone(),
                    std::mem::replace(&mut d.outcome, Ok(String::new())),
                )
            })
            .collect();
        let store = store.clone();
        let stored = store_thread
            .run(move || store.finish_full_text_batch(&outcomes, now))
            .await;
        match stored {
            Some(results) => {
                for (d, result) in batch.iter().zip(results) {
                    if let Err(e) = result {
                        warn!(feed = %d.job.feed.name, link = %d.job.link, error = %e, "Cannot store the extracted article.");
                    }
                }
                changed.notify_one();
            }
            None => warn!("Full-text store task ended abnormally."),
        }
        let mut keys = running.lock().expect("lock poisoned");
        for d in &batch {
            keys.remove(&d.job.key);
        }
        drop(keys);
        batch.clear();
    }
}

/// Fetches and extracts one page; the error is the operator's message.
/// An article shorter than `feed_content` (the item's content from its
/// feed) is not published: the page showed a fragment (a teaser block, a
/// paywall's first lines, what readability settled on) where the feed
/// already carries more of the story, and the feed's content stays.
async fn extract_page(
    job: &Job,
    feed_content: Option<String>,
    backoff: &SiteBackoff,
    extractors: &Workers,
) -> Result<String, String> {
    let Some(opts) = job.feed.full_text.clone() else {
        return Err("full_text is off for this feed".into());
    };
    if crate::item::ItemKey::from_link(&job.link) == crate::item::ItemKey::from_link(&job.feed.url) {
        return Err(format!("{}: the item links to the feed itself", job.link));
    }
    // A page other entries of the feed link to too (a section, a day's
    // posts, an app's routes): extracting it would publish the page, not
    // this entry.
    if job.key.shares_its_link() || job.link.fragment().is_some() {
        return Err(format!(
            "{}: other entries of the feed link to this page too",
            job.link
        ));
    }
    let host = job.link.host_str().unwrap_or_default().to_owned();
    if let Some((n, until)) = backoff.blocked(&host) {
        let until = chrono::DateTime::from_timestamp(until, 0).unwrap_or_default();
        return Err(format!(
            "{}: {host} is backing off after {n} failed page fetches (until {})",
            job.link,
            until.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    let fetched = {
        let _permits = job.ctx.permits(&job.link).await;
        job.ctx
            .fetcher
            .for_pages()
            .with_user_agent(job.feed.user_agent.as_deref())
            .fetch_gated(
                &job.link,
                &Validators::default(),
                job.feed.allow_private_networks,
                Some(job.ctx.body_gate()),
            )
            .await
    };
    let fetched = match fetched {
        Ok(f) => f,
        Err(e) => {
            if site_fault(&e) {
                backoff.failed(&host).await;
            }
            return Err(format!("{}: {e}", job.link));
        }
    };
    backoff.succeeded(&host).await;
    // Held until the page is extracted: its bytes and DOM count as one of
    // the bodies in memory.
    let _body_slot = fetched.body_slot;
    let Some(body) = fetched.body else {
        return Err(format!("{}: HTTP 304 to an unconditional request", job.link));
    };
    let _cpu = job
        .ctx
        .cpu_gate()
        .acquire_owned()
        .await
        .expect("semaphores are never closed");
    let link = job.link.clone();
    let outlet = job.feed.name.clone();
    let content_type = fetched.content_type;
    let extracted = extractors
        .run(move || {
            extract(
                &body,
                content_type.as_deref(),
                &link,
                opts.selector.as_deref(),
                Some(&outlet),
            )
            .map(|a| {
                let shorter = feed_content
                    .as_deref()
                    .and_then(|feed| crate::extract::shorter_than(&a, feed));
                (a.html, shorter)
            })
        })
        .await
        .ok_or_else(|| format!("{}: internal error while extracting", job.link))?;
    match extracted {
        Ok((_, Some((kept, feed)))) => Err(format!(
            "{}: the page's article ({kept} letters) is shorter than the feed's own content ({feed}); keeping the feed's content",
            job.link
        )),
        Ok((html, None)) => Ok(html),
        Err(e) => Err(format!("{}: {e}", job.link)),
    }
}

/// Failures that say the site is struggling (back off), rather than that
/// this one page is unsuitable.
fn site_fault(e: &FetchError) -> bool {
    match e {
        FetchError::Status { status, .. } => *status == 429 || *status >= 500,
        // A certificate the site's every page fails with.
        FetchError::Timeout | FetchError::Connect(_) | FetchError::Tls(_) => true,
        _ => false,
    }
}
