//! Wiring: opens the store, starts the scheduler, renderer, pruner, watchdog
//! and server tasks, applies reloads, and shuts them down in order. No feed,
//! HTML or HTTP logic lives here.
//!
//! Shutdown order: stop accepting requests and stop polling (in-flight
//! fetches are dropped; they are idempotent and retried next start), wait for
//! the tasks, then flush the store so that nothing acknowledged is lost.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::fetch::Fetcher;
use crate::generate::OutputMeta;
use crate::metrics::Metrics;
use crate::poller::{self, FeedReport, Heartbeat, PollContext, PollReport, Scheduler};
use crate::server::{self, Introspect, Published};
use crate::status;
use crate::store::{Retention, Store, StoreError};
use crate::systemd;

pub use crate::backup::{export_jsonl, import_jsonl};
use crate::render::{opml_document, publishable_with, render_outputs_with, FeedSites};
pub use crate::render::{render_all, render_outputs, render_to_dir, write_files, RenderedOutput, FORMATS};

/// Opens the configured store with a message that names where it is.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open_configured(&config.storage)
}

/// `feedwire poll-once`: every feed once, then render.
pub async fn poll_once(config: &Config) -> anyhow::Result<PollOnceReport> {
    let store = open_store(config)?;
    let fetcher = Fetcher::new(&config.poll).context("building the HTTP client")?;
    let clock: crate::clock::SharedClock = Arc::new(SystemClock);
    let mut ctx = PollContext::new(store.clone(), fetcher, clock.clone(), config);
    // `full_text` feeds: new items' pages are fetched as in the daemon (and
    // pages left pending by an earlier run are resumed), and the run waits
    // for them at most the longest `full_text_timeout`, so a cron user
    // publishes full articles.
    let full_text = config
        .feeds
        .iter()
        .filter_map(|f| f.full_text.as_ref())
        .map(|o| o.timeout)
        .max();
    let landed = Arc::new(tokio::sync::Notify::new());
    let cancel = CancellationToken::new();
    // Whatever way this returns, the task stops with it.
    let _stop = cancel.clone().drop_guard();
    let started = tokio::time::Instant::now();
    // Pages are fetched once the round is stored, not while it is polled:
    // a cold round's parsing and storing, and its first thousands of
    // extractions, each peak on their own, and together they added up
    // (BENCHMARKS.md, Run 11). The overlap is bounded, not forbidden: a
    // round still running when half the wait is gone lets extraction begin
    // then, so that a slow round still publishes full articles. Items are
    // claimed as they are stored, as in the daemon; the one render follows
    // the wait, so nothing is published before the articles had their
    // chance whether or not the claims hold their items. On a store no
    // other process renders from meanwhile (sled's lock) they hold nothing:
    // a held entry per new item and the release of them all at the end
    // were the largest full-text part of a cold run's peak (BENCHMARKS.md,
    // Run 13). On a shared store (PostgreSQL) other nodes render during the
    // wait, so the items are held and every hold ends here, after it.
    let (round_stored, stored) = tokio::sync::oneshot::channel::<()>();
    if let Some(timeout) = full_text {
        let begin = async move {
            tokio::select! {
                // A dropped sender is an early return: `_stop` cancels.
                _ = stored => {}
                () = tokio::time::sleep_until(started + timeout / 2) => {}
            }
        };
        ctx.full_text = Some(crate::fulltext::start_when(
            ctx.clone(),
            config,
            landed.clone(),
            cancel.clone(),
            begin,
            if store.renders_alone() {
                crate::fulltext::Holds::Never
            } else {
                crate::fulltext::Holds::Caller
            },
        ));
    }
    let (report, feeds) = poller::poll_all(&ctx, config).await;
    let mut extracted = false;
    if let Some(timeout) = full_text {
        // Every document is committed (`poll_all` returns after the last
        // commit): its pages are written out and the round's memory given
        // back before the first article page is fetched.
        tokio::task::spawn_blocking({
            let store = store.clone();
            move || {
                let flushed = store.flush();
                crate::memory::release();
                flushed
            }
        })
        .await
        .context("flush task")?
        .context("flushing the store")?;
        let _ = round_stored.send(());
        extracted = wait_for_articles(&store, &landed, started + timeout).await;
        cancel.cancel();
        // Still pending at the deadline: published with the feed's content
        // (counted as fallbacks); their pages stay queued for the next run.
        // Holds (a shared store's, or a killed daemon's) end in the store's
        // batches: a cold run holds tens of thousands, and a set of their
        // keys and a write each cost more than the round's polling
        // (BENCHMARKS.md, Run 9: full-text memory).
        store
            .end_full_text_holds()
            .context("releasing held full-text items")?;
    }
    // Only outputs that carry a feed whose items changed are rendered: the
    // others would come out as they did last time, so a warm poll-once
    // costs a process start and the conditional requests, not a render.
    // An article that landed (or a hold released) may be in any output.
    let changed: HashSet<&str> = feeds
        .iter()
        .filter(|f| matches!(&f.outcome, poller::Outcome::Updated { ingest, .. } if ingest.changed()))
        .map(|f| f.url.as_str())
        .collect();
    let wanted = |output: &crate::config::OutputConfig| {
        extracted || config.feeds_of(output).any(|f| changed.contains(f.url.as_str()))
    };
    let wanted: Vec<String> = config
        .outputs
        .iter()
        .filter(|o| wanted(o))
        .map(|o| o.name.clone())
        .collect();
    // The round's bodies and buffers are free: their pages go back before
    // the render, which runs on another thread (another malloc arena) and
    // otherwise stacked its own peak on the polling's (10,000 feeds).
    crate::memory::release();
    // Durable before written: the files never show an item a crash could
    // take back.
    store.flush().context("flushing the store")?;
    let mut rendered: Vec<(String, usize)> = Vec::new();
    if !wanted.is_empty() {
        rendered = tokio::task::spawn_blocking({
            let (config, store) = (config.clone(), store.clone());
            move || {
                let mut rendered = Vec::new();
                crate::render::render_each(
                    &config,
                    &store,
                    |o| wanted.contains(&o.name),
                    |output, name, doc| {
                        // `clusters.json` is served, never written; a
                        // document that goes to no file is only counted.
                        let bytes = match (&output.file, name.contains('/')) {
                            (Some(prefix), false) => {
                                let mut bytes = 0;
                                crate::render::write_file_with(prefix, name, |file| {
                                    bytes = doc.write_to(file)?.bytes;
                                    Ok(())
                                })
                                .with_context(|| format!("writing {name} to {}", prefix.display()))?;
                                bytes
                            }
                            _ => doc.write_to(std::io::sink()).context("rendering")?.bytes,
                        };
                        rendered.push((name.to_owned(), bytes as usize));
                        Ok::<_, anyhow::Error>(())
                    },
                )?;
                Ok::<_, anyhow::Error>(rendered)
            }
        })
        .await
        .context("render task")??;
        rendered.sort();
    }
    Ok(PollOnceReport {
        totals: report,
        failures: feeds
            .into_iter()
            .filter_map(|f| match f.outcome {
                poller::Outcome::Failed { error } => Some((f.url, error)),
                _ => None,
            })
            .collect(),
        rendered,
        items_stored: store.item_count(),
    })
}

/// Waits until no full-text item is pending (each extracted or failed), or
/// until `deadline`; true when any was pending (outputs may have changed).
async fn wait_for_articles(
    store: &Store,
    landed: &tokio::sync::Notify,
    deadline: tokio::time::Instant,
) -> bool {
    // Whether one claim is pending, not the list of them: this runs at
    // every landing, and a cold run has tens of thousands pending.
    let pending = |store: &Store| {
        let store = store.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                store
                    .pending_full_text_after(None, 1)
                    .map(|p| p.len())
                    .unwrap_or(0)
            })
            .await
            .unwrap_or(0)
        }
    };
    let mut any = false;
    loop {
        // Registered before the check, so that a landing between the two
        // is not missed.
        let notified = landed.notified();
        if pending(store).await == 0 {
            return any;
        }
        any = true;
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return true;
        }
    }
}

/// What `poll-once` did, for its summary.
#[derive(Debug)]
pub struct PollOnceReport {
    pub totals: PollReport,
    /// Failed feeds: (URL, error).
    pub failures: Vec<(String, String)>,
    /// Rendered documents: (file name, bytes); empty when nothing stored
    /// changed, so nothing was rendered.
    pub rendered: Vec<(String, usize)>,
    pub items_stored: usize,
}

/// A running daemon. Dropping it does not stop it; call [`Daemon::shutdown`].
pub struct Daemon {
    /// The address the server is bound to (changes when a reload rebinds).
    pub addr: SocketAddr,
    config: watch::Sender<Arc<Config>>,
    cancel: CancellationToken,
    store: Store,
    published: Arc<Published>,
    introspect: Arc<DaemonIntrospect>,
    /// The current server and the token that stops it alone.
    server: (CancellationToken, JoinHandle<std::io::Result<()>>),
    /// Servers replaced by a rebind, finishing their in-flight requests.
    retired: Vec<JoinHandle<std::io::Result<()>>>,
    poller: JoinHandle<()>,
    renderer: JoinHandle<()>,
    pruner: JoinHandle<()>,
    watchdog: Option<JoinHandle<()>>,
    reports: broadcast::Sender<FeedReport>,
    reloads: broadcast::Sender<Result<String, String>>,
}

/// What the daemon says about itself (`/healthz`, `/readyz`, `/status.json`).
struct DaemonIntrospect {
    poller_running: Arc<AtomicBool>,
    heartbeat: Arc<Heartbeat>,
    rounds: Arc<AtomicU64>,
    store: Store,
    config: watch::Receiver<Arc<Config>>,
    metrics: Arc<Metrics>,
    /// What the last render published, for the status page.
    outputs: std::sync::RwLock<Vec<status::OutputSummary>>,
    /// The render in progress, if any, and how long it may take.
    render: RenderWatch,
}

/// When the render in progress started. A render that never ends (sled's
/// flush blocked for good after a full disk, BENCHMARKS.md Run 15; an
/// output file on a hung mount) leaves the node serving its last documents
/// while every other check passes: past `stall` it fails `/healthz` and
/// withholds the watchdog ping, so that systemd restarts the daemon and a
/// load balancer takes the node out.
struct RenderWatch {
    clock: std::time::Instant,
    /// Milliseconds from `clock` to the running render's start, plus one;
    /// 0 while no render runs.
    since: AtomicU64,
    stall: std::time::Duration,
}

impl RenderWatch {
    /// Ten watchdog intervals (the shipped unit's 60 s: 10 minutes), at
    /// most [`RENDER_STALL`]: far beyond a render of the largest outputs
    /// (BENCHMARKS.md: seconds), so a slow machine is never restarted in a
    /// loop.
    fn new(watchdog: Option<std::time::Duration>) -> RenderWatch {
        RenderWatch {
            clock: std::time::Instant::now(),
            since: AtomicU64::new(0),
            stall: watchdog.map_or(RENDER_STALL, |every| (every * 10).min(RENDER_STALL)),
        }
    }

    fn start(&self) {
        let ms = u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.since.store(ms + 1, Ordering::Relaxed);
    }

    fn end(&self) {
        self.since.store(0, Ordering::Relaxed);
    }

    /// How long the running render has taken, once that is past `stall`.
    fn stuck(&self) -> Option<std::time::Duration> {
        let since = self.since.load(Ordering::Relaxed).checked_sub(1)?;
        let age = self
            .clock
            .elapsed()
            .saturating_sub(std::time::Duration::from_millis(since));
        (age > self.stall).then_some(age)
    }
}

impl DaemonIntrospect {
    fn poller_alive(&self) -> Result<(), String> {
        if !self.poller_running.load(Ordering::Relaxed) {
            return Err("poller stopped".into());
        }
        let age = self.heartbeat.age();
        if age > STALL {
            return Err(format!("poller stalled for {}s", age.as_secs()));
        }
        Ok(())
    }

    /// One line for `systemctl status` and the logs.
    fn summary(&self) -> String {
        let config = self.config.borrow().clone();
        let configured: std::collections::HashSet<&str> =
            config.feeds.iter().map(|f| f.url.as_str()).collect();
        let (mut ok, mut failing) = (0, 0);
        self.walk_states()(&mut |url, state| {
            if configured.contains(url) {
                match status::state_label(Some(&state)) {
                    "ok" => ok += 1,
                    "failing" | "gone" => failing += 1,
                    _ => {}
                }
            }
            true
        });
        format!(
            "{} feeds: {ok} ok, {failing} failing; {} items stored",
            config.feeds.len(),
            self.store.item_count()
        )
    }

    /// Every saved feed state, in one walk of the store (see
    /// [`status::collect_walked`]); a store error is logged and ends it.
    fn walk_states(&self) -> impl FnOnce(status::StateVisitor<'_>) + '_ {
        move |f| {
            if let Err(e) = self.store.for_each_feed_state(f) {
                warn!(error = %e, "Reading the feed states failed.");
            }
        }
    }
}

/// Least time between two renders.
const RENDER_GAP: std::time::Duration = std::time::Duration::from_millis(500);

/// How long a stop waits for the store's final flush.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The poller counts as stuck when its loop has not turned for this long.
const STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// A render counts as stuck after this long at most (see [`RenderWatch`]).
const RENDER_STALL: std::time::Duration = std::time::Duration::from_secs(600);

impl Introspect for DaemonIntrospect {
    fn health(&self) -> Result<(), String> {
        self.poller_alive()?;
        if let Some(age) = self.render.stuck() {
            return Err(format!(
                "a render has not finished for {}s (store flush or output files): serving the documents of the last render",
                age.as_secs()
            ));
        }
        if !self.store.reachable() {
            return Err("database unreachable (serving the last documents, polling nothing)".into());
        }
        // A full disk leaves reads working: the last write decides.
        if let Some(e) = self.store.write_failure() {
            return Err(format!("store writes failing: {e}"));
        }
        self.store.feed_state("").map(|_| ()).map_err(|e| e.to_string())
    }

    fn ready(&self) -> Result<(), String> {
        self.health()?;
        if self.rounds.load(Ordering::Relaxed) == 0 {
            return Err("no poll round completed yet".into());
        }
        Ok(())
    }

    fn status_json(&self) -> Vec<u8> {
        let config = self.config.borrow().clone();
        let mut feeds = status::collect_walked(&config, |_| true, self.walk_states());
        status::add_full_text(&mut feeds, &config, |url| {
            self.store.full_text_stats(url).unwrap_or_default()
        });
        serde_json::to_vec_pretty(&feeds).expect("status serialises")
    }

    fn status_json_query(&self, query: &status::StatusQuery) -> Vec<u8> {
        let config = self.config.borrow().clone();
        let state_of = |url: &str| self.store.feed_state(url).ok().flatten();
        let mut feeds = match query.state {
            // A page alone reads only its feeds' states: with 100,000
            // feeds, reading them all costs seconds.
            None => status::collect_from(
                config
                    .feeds
                    .iter()
                    .skip(query.offset.unwrap_or(0))
                    .take(query.limit.unwrap_or(usize::MAX)),
                state_of,
            ),
            // Only the feeds in the asked states are kept from one walk.
            Some(_) => query.apply(status::collect_walked(
                &config,
                |state| query.wants_state(state),
                self.walk_states(),
            )),
        };
        if config.feeds.iter().any(|f| f.full_text.is_some()) {
            // Full-text counts by URL: the page is no longer in config order
            // of every feed, which `add_full_text` zips with.
            let by_url: std::collections::HashMap<&str, &crate::config::FeedConfig> =
                config.feeds.iter().map(|f| (f.url.as_str(), f)).collect();
            for f in &mut feeds {
                if let Some(ft) = by_url.get(f.url.as_str()).and_then(|c| c.full_text.as_ref()) {
                    f.full_text = Some(status::FullTextStatus::new(
                        &self.store.full_text_stats(&f.url).unwrap_or_default(),
                        ft.auto,
                    ));
                }
            }
        }
        serde_json::to_vec_pretty(&feeds).expect("status serialises")
    }

    fn max_age(&self) -> u64 {
        self.config.borrow().poll.interval.as_secs().min(300)
    }

    fn metrics_text(&self) -> String {
        let config = self.config.borrow().clone();
        for feed in config.feeds.iter().filter(|f| f.full_text.is_some()) {
            let stats = self.store.full_text_stats(feed.url.as_str()).unwrap_or_default();
            self.metrics.record_full_text(&feed.name, &stats);
        }
        self.metrics
            .encode(self.store.item_count(), self.store.size_on_disk().unwrap_or(0))
    }

    fn status_page(&self) -> String {
        let config = self.config.borrow().clone();
        let mut feeds = status::collect_walked(&config, |_| true, self.walk_states());
        status::add_full_text(&mut feeds, &config, |url| {
            self.store.full_text_stats(url).unwrap_or_default()
        });
        let outputs = self.outputs.read().expect("lock poisoned").clone();
        let page = status::page(&feeds, &outputs, self.store.item_count());
        match self.fleet() {
            Some(fleet) => status::with_fleet(page, &fleet),
            None => page,
        }
    }

    fn fleet_json(&self) -> Option<Vec<u8>> {
        self.fleet()
            .map(|f| serde_json::to_vec_pretty(&f).expect("fleet status serialises"))
    }

    fn count_request(&self, route: &'static str, status: u16) {
        self.metrics.record_request(route, status);
    }

    fn export_jsonl(&self, sink: &mut dyn FnMut(Vec<u8>) -> bool) {
        if let Err(e) = export_jsonl(&self.store, sink) {
            error!(error = %e, "Export failed.");
        }
    }
}

impl DaemonIntrospect {
    /// The fleet as operators see it; None without a shared store.
    fn fleet(&self) -> Option<status::Fleet> {
        if !self.store.is_shared() {
            return None;
        }
        let nodes = self.store.nodes();
        let now = chrono::Utc::now().timestamp();
        Some(status::Fleet::new(
            &crate::store::node_name(),
            self.store.reachable(),
            nodes.as_ref().map_or(&[][..], |n| &n[..]),
            now,
            nodes.as_ref().err().map(|e| e.to_string()),
        ))
    }

    /// Notes a render for the status page and the metrics.
    fn rendered(&self, outputs: &[RenderedOutput], took: std::time::Duration) {
        let docs: Vec<(String, String, usize)> = outputs
            .iter()
            .flat_map(|o| {
                o.docs.iter().map(|(file, d)| {
                    let format = file.rsplit('.').next().unwrap_or_default().to_owned();
                    (o.name.clone(), format, d.body.len())
                })
            })
            .collect();
        let items: Vec<(String, usize)> = outputs.iter().map(|o| (o.name.clone(), o.items)).collect();
        self.metrics.record_render(took, &docs, &items);
        let mut summaries = self.outputs.write().expect("lock poisoned");
        for o in outputs {
            self.metrics
                .record_clusters(&o.name, o.clusters, o.clustered_items);
            self.metrics.record_span(&o.name, o.span);
            // Said once when an output's items start to leave it within
            // the hour, not at every render.
            let was_short = summaries
                .iter()
                .find(|s| s.name == o.name)
                .is_some_and(|s| s.span.is_some_and(short_span));
            if let Some(span) = o.span.filter(|s| short_span(*s) && !was_short) {
                warn!(output = %o.name, items = o.items, span_seconds = span,
                    "Output is full and its items span under an hour: subscribers polling less often miss items. Raise its max_items.");
            }
        }
        *summaries = outputs
            .iter()
            .map(|o| status::OutputSummary {
                name: o.name.clone(),
                title: o.title.clone(),
                items: o.items,
                span: o.span,
            })
            .collect();
    }
}

/// A full output whose items all came within this loses items to readers
/// that poll hourly (Miniflux's default refresh) or less often.
fn short_span(span: i64) -> bool {
    span < 3600
}

/// Clears the flag when the poller task ends, however it ends.
struct RunningGuard(Arc<AtomicBool>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Binds the configured address, or takes the socket systemd passed.
async fn listener_for(config: &Config, activated: bool) -> anyhow::Result<tokio::net::TcpListener> {
    if activated {
        if let Some(l) = systemd::activated_listener().context("reading LISTEN_FDS")? {
            return tokio::net::TcpListener::from_std(l).context("using the socket from systemd");
        }
    }
    server::bind(config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))
}

impl Daemon {
    /// Opens the store, publishes what it holds, binds the listener and
    /// starts polling. Outputs are served from the store before the first
    /// poll completes.
    pub async fn start(config: Config) -> anyhow::Result<Daemon> {
        Daemon::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`Daemon::start`], with the poller on the given clock.
    pub async fn start_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Daemon> {
        let config = Arc::new(config);
        let store = open_store(&config)?;
        let fetcher = Fetcher::new(&config.poll).context("building the HTTP client")?;
        let published = Arc::new(Published::default());
        // The feeds' site links as the store holds them, read once for the
        // outlets and the OPML, and kept by the renderer.
        let sites = Arc::new(FeedSites::read(&config, &store));
        let outputs = render_outputs_with(&config, &store, &sites, |_| None)
            .context("rendering outputs from the store")?;
        let opml = opml_document(&config, &sites);
        published.publish(publishable_with(&outputs, opml.clone()));

        let listener = listener_for(&config, true).await?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let (config_tx, config_rx) = watch::channel(config.clone());
        let cancel = CancellationToken::new();
        let poller_running = Arc::new(AtomicBool::new(true));
        let heartbeat = Arc::new(Heartbeat::default());
        let rounds = Arc::new(AtomicU64::new(0));
        let site_links = Arc::new(AtomicU64::new(0));
        let introspect = Arc::new(DaemonIntrospect {
            poller_running: poller_running.clone(),
            heartbeat: heartbeat.clone(),
            rounds: rounds.clone(),
            store: store.clone(),
            config: config_rx.clone(),
            metrics: Arc::new(Metrics::new()),
            outputs: Default::default(),
            render: RenderWatch::new(systemd::watchdog_interval()),
        });
        introspect.rendered(&outputs, std::time::Duration::ZERO);
        let server = spawn_server(listener, &published, &introspect, &cancel);

        let changed = Arc::new(Notify::new());
        if store.is_shared() {
            tokio::spawn(fleet_loop(
                store.clone(),
                clock.clone(),
                changed.clone(),
                cancel.clone(),
            ));
        }
        let clock_for_pruning = clock.clone();
        let (reports, _) = broadcast::channel(1024);
        // Metrics follow the poller's reports.
        tokio::spawn({
            let mut rx: broadcast::Receiver<FeedReport> = reports.subscribe();
            let introspect = introspect.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok(report) => introspect.metrics.record_poll(&report),
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        });
        let poller = tokio::spawn({
            let scheduler = Scheduler {
                store: store.clone(),
                clock: clock.clone(),
                changed: changed.clone(),
                reports: reports.clone(),
                heartbeat,
                rounds,
                site_links: site_links.clone(),
            };
            let (config, cancel) = (config_rx.clone(), cancel.clone());
            async move {
                let _guard = RunningGuard(poller_running);
                poller::run(scheduler, config, cancel).await
            }
        });
        let pruner = tokio::spawn(prune_loop(
            store.clone(),
            config_rx.clone(),
            clock_for_pruning,
            changed.clone(),
            cancel.clone(),
        ));
        let renderer = tokio::spawn(render_loop(
            Renderer {
                config: config_rx.clone(),
                store: store.clone(),
                published: published.clone(),
                introspect: introspect.clone(),
                fetcher,
                last: etags(&outputs),
                sites: Some(SitesRead {
                    config: config.clone(),
                    site_links: 0,
                    sites,
                    opml,
                }),
                site_links,
            },
            changed,
            cancel.clone(),
        ));
        info!(%addr, feeds = config.feeds.len(), outputs = config.outputs.len(), items = store.item_count(), "Listening.");
        systemd::ready(&introspect.summary());
        // Only after READY: a ping before it would tell systemd that a
        // service still starting is alive, and break the protocol's order.
        let watchdog = systemd::watchdog_interval()
            .map(|every| tokio::spawn(watchdog_loop(introspect.clone(), every, cancel.clone())));
        let (reloads, _) = broadcast::channel(16);
        Ok(Daemon {
            addr,
            config: config_tx,
            cancel,
            store,
            published,
            introspect,
            server,
            retired: Vec::new(),
            poller,
            renderer,
            pruner,
            watchdog,
            reports,
            reloads,
        })
    }

    /// Re-reads the config file and applies it without a restart. On any
    /// problem the daemon keeps running on the old config and every problem
    /// is logged with file:line:column. Returns the one-line summary.
    pub async fn reload(&mut self) -> Result<String, ConfigError> {
        systemd::reloading();
        let result = self.apply_reload().await;
        match &result {
            Ok(summary) => info!(changes = %summary, "Config reloaded."),
            Err(e) => {
                for p in e.problems() {
                    error!(problem = %p, "Config not reloaded.");
                }
                if e.problems().is_empty() {
                    error!(error = %e, "Config not reloaded.");
                }
                error!("Keeping the previous config.");
            }
        }
        systemd::ready(&self.introspect.summary());
        let _ = self
            .reloads
            .send(result.as_ref().map(Clone::clone).map_err(|e| e.to_string()));
        result
    }

    async fn apply_reload(&mut self) -> Result<String, ConfigError> {
        let old = self.config.borrow().clone();
        let mut new = Config::load(&old.path)?;
        if new.storage.path != old.storage.path {
            warn!(old = %old.storage.path.display(), new = %new.storage.path.display(),
                  "A new store path takes effect at the next restart; keeping the open store.");
            new.storage = old.storage.clone();
        }
        if (new.storage.backend, &new.storage.url) != (old.storage.backend, &old.storage.url) {
            warn!("A new store backend or database URL takes effect at the next restart; keeping the open store.");
            new.storage.backend = old.storage.backend;
            new.storage.url = old.storage.url.clone();
        }
        let summary = new.describe_changes(&old);
        if new.server.listen != old.server.listen {
            match server::bind(new.server.listen).await {
                Ok(listener) => {
                    let addr = listener.local_addr().map_err(|e| ConfigError::Read {
                        path: old.path.clone(),
                        source: e,
                    })?;
                    let server = spawn_server(listener, &self.published, &self.introspect, &self.cancel);
                    let (old_cancel, old_handle) = std::mem::replace(&mut self.server, server);
                    // The old server stops accepting; its requests finish.
                    old_cancel.cancel();
                    self.retired.push(old_handle);
                    info!(%addr, "Listening on the new address.");
                    self.addr = addr;
                }
                Err(e) => {
                    error!(listen = %new.server.listen, error = %e, "Cannot bind the new address; keeping the old one.");
                    new.server.listen = old.server.listen;
                }
            }
        }
        self.config.send_replace(Arc::new(new));
        Ok(summary)
    }

    /// Stops serving and polling, waits for the tasks, flushes the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        systemd::stopping();
        self.cancel.cancel();
        let (server, _, _, _) = tokio::join!(self.server.1, self.poller, self.renderer, self.pruner);
        if let Ok(Err(e)) = server {
            error!(error = %e, "Server ended with an error.");
        }
        for handle in self.retired.into_iter().chain(self.watchdog.map(|w| {
            let h: JoinHandle<std::io::Result<()>> = tokio::spawn(async move {
                let _ = w.await;
                Ok(())
            });
            h
        })) {
            let _ = handle.await;
        }
        let store = self.store;
        // sled's flush can block for good after a write failed for lack of
        // space: bounded, so a stop never needs systemd's SIGKILL.
        match tokio::time::timeout(FLUSH_TIMEOUT, tokio::task::spawn_blocking(move || store.flush())).await {
            Ok(flushed) => flushed.context("flush task")?.context("flushing the store")?,
            Err(_) => anyhow::bail!(
                "flushing the store did not finish within {}s (disk full?); stopping without it",
                FLUSH_TIMEOUT.as_secs()
            ),
        }
        info!("Stopped.");
        Ok(())
    }

    /// The documents being served; `subscribe()` on it to wait for renders.
    pub fn published(&self) -> Arc<Published> {
        self.published.clone()
    }

    /// The store the daemon reads and writes. A sled store belongs to one
    /// process: code in the daemon's process (tests) reaches it here.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every feed poll's report, as it completes.
    pub fn reports(&self) -> broadcast::Receiver<FeedReport> {
        self.reports.subscribe()
    }

    /// The outcome of every reload: the change summary, or the error.
    pub fn reloads(&self) -> broadcast::Receiver<Result<String, String>> {
        self.reloads.subscribe()
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    /// A token that stops the daemon when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

fn spawn_server(
    listener: tokio::net::TcpListener,
    published: &Arc<Published>,
    introspect: &Arc<DaemonIntrospect>,
    cancel: &CancellationToken,
) -> (CancellationToken, JoinHandle<std::io::Result<()>>) {
    let token = cancel.child_token();
    let introspect: Arc<dyn Introspect> = introspect.clone();
    let router = server::router(published.clone(), introspect);
    (
        token.clone(),
        tokio::spawn(server::serve(listener, router, token)),
    )
}

/// How often retention runs (and once at start).
pub const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
/// Items moved per pruning batch; batches yield in between, so pruning
/// never holds up serving or polling for long.
const PRUNE_BATCH: usize = 1000;

/// Applies `[storage]` retention in the background.
async fn prune_loop(
    store: Store,
    config: watch::Receiver<Arc<Config>>,
    clock: SharedClock,
    changed: Arc<Notify>,
    cancel: CancellationToken,
) {
    loop {
        let storage = config.borrow().storage.clone();
        let policy = Retention {
            max_age: storage.retention,
            max_items: storage.max_items,
            seen_max_age: storage.seen_retention,
        };
        let (mut items, mut seen) = (0, 0);
        loop {
            let (store, now) = (store.clone(), clock.now().timestamp());
            match tokio::task::spawn_blocking(move || store.prune(now, &policy, PRUNE_BATCH)).await {
                Ok(Ok(r)) => {
                    items += r.items;
                    seen += r.seen;
                    if !r.more {
                        break;
                    }
                }
                Ok(Err(e)) => {
                    error!(error = %e, "Pruning the store failed; will retry.");
                    break;
                }
                Err(e) => {
                    error!(error = %e, "Pruning task failed; will retry.");
                    break;
                }
            }
            if cancel.is_cancelled() {
                return;
            }
            tokio::task::yield_now().await;
        }
        if items > 0 || seen > 0 {
            info!(items, seen, "Pruned the store.");
            changed.notify_one();
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(PRUNE_EVERY) => {}
        }
    }
}

/// Pings the systemd watchdog at half its interval, but only while the
/// daemon is healthy (the poller loop turns, the store answers, no render
/// is stuck: [`Introspect::health`]): a hung daemon gets restarted.
async fn watchdog_loop(
    introspect: Arc<DaemonIntrospect>,
    every: std::time::Duration,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(every / 2);
    let mut last_status = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let intro = introspect.clone();
        // A loop that turns every HEARTBEAT has missed a whole watchdog
        // interval (and at least two turns) when it is this late.
        let stall = every.max(poller::HEARTBEAT * 2);
        let healthy = tokio::task::spawn_blocking(move || {
            let age = intro.heartbeat.age();
            if age > stall {
                return Err(format!("poller loop has not turned for {}ms", age.as_millis()));
            }
            intro.health()
        })
        .await;
        match healthy {
            Ok(Ok(())) => systemd::watchdog(),
            Ok(Err(why)) => {
                error!(reason = %why, "Withholding the watchdog ping; systemd will restart the service.")
            }
            Err(e) => error!(error = %e, "Health check failed; withholding the watchdog ping."),
        }
        if last_status.elapsed() >= std::time::Duration::from_secs(10) {
            let intro = introspect.clone();
            if let Ok(summary) = tokio::task::spawn_blocking(move || intro.summary()).await {
                systemd::status(&summary);
            }
            last_status = std::time::Instant::now();
        }
    }
}

/// How often a fleet node says it is alive and looks for other nodes'
/// changes to the shared store.
const FLEET_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// A node of a fleet: heartbeats, and re-renders when the store's change
/// counter moved, whichever node changed it. So all nodes serve the same
/// documents within about a second (plus a render) of a change, learning
/// of it through the database only.
async fn fleet_loop(store: Store, clock: SharedClock, changed: Arc<Notify>, cancel: CancellationToken) {
    let node = crate::store::node_name();
    let mut tick = tokio::time::interval(FLEET_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<i64> = None;
    let mut started = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let (s, n, now) = (store.clone(), node.clone(), clock.now().timestamp());
        let first = !started;
        let counter = tokio::task::spawn_blocking(move || s.fleet_tick(&n, now, first)).await;
        match counter {
            Ok(Ok(c)) => {
                started = true;
                // The first reading is the baseline: the start-up render
                // already read the store.
                if last.is_some_and(|l| l != c) {
                    changed.notify_one();
                }
                last = Some(c);
            }
            // The store's probe logs outages once; nothing to add here.
            Ok(Err(e)) => debug!(error = %e, "Fleet heartbeat failed."),
            Err(e) => debug!(error = %e, "Fleet task failed."),
        }
    }
}

/// What the renderer task owns.
struct Renderer {
    config: watch::Receiver<Arc<Config>>,
    store: Store,
    published: Arc<Published>,
    introspect: Arc<DaemonIntrospect>,
    fetcher: Fetcher,
    /// Each output's ETags at its last render, to act only on real changes.
    last: HashMap<String, Vec<String>>,
    /// The poller's count of site link changes (see [`Scheduler::site_links`]).
    site_links: Arc<AtomicU64>,
    /// The feeds' site links last read (the story outlets and the OPML
    /// made from them), kept while neither the config nor a site link
    /// changed.
    sites: Option<SitesRead>,
}

/// The feeds' site links, what was made from them, and when they were read.
struct SitesRead {
    config: Arc<Config>,
    /// [`Renderer::site_links`] when they were read, before the walk.
    site_links: u64,
    /// The site links and the story outlets.
    sites: Arc<FeedSites>,
    opml: Arc<server::Representation>,
}

impl Renderer {
    /// The site links read before and the OPML made from them, if nothing
    /// they hold can have changed since: the same config and no new site
    /// link from this process's poller, and the last read was complete.
    /// With a shared store other nodes save site links too, so they are
    /// read anew.
    fn sites_kept(
        &self,
        config: &Arc<Config>,
        site_links: u64,
    ) -> Option<(Arc<FeedSites>, Arc<server::Representation>)> {
        self.sites
            .as_ref()
            .filter(|m| {
                !self.store.is_shared()
                    && m.sites.complete()
                    && Arc::ptr_eq(&m.config, config)
                    && m.site_links == site_links
            })
            .map(|m| (m.sites.clone(), m.opml.clone()))
    }
}

fn etags(outputs: &[RenderedOutput]) -> HashMap<String, Vec<String>> {
    outputs.iter().map(|o| (o.name.clone(), etags_of(o))).collect()
}

fn etags_of(output: &RenderedOutput) -> Vec<String> {
    output.docs.iter().map(|(_, d)| d.etag.clone()).collect()
}

/// Re-renders whenever the poller reports new items. Notifications that
/// arrive during a render coalesce into one more render. For each output
/// whose documents changed, writes its files (`file = ...`) and pings its
/// WebSub hubs, neither of which ever delays serving.
async fn render_loop(mut r: Renderer, changed: Arc<Notify>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = changed.notified() => {}
            // A reload may change outputs: render them at once.
            Ok(()) = r.config.changed() => {}
        }
        let config_now = r.config.borrow_and_update().clone();
        // Counted before rendering, so the render holds at least this many.
        let stored = r.store.item_count();
        // Read before the walk: a site link saved during it moves the count
        // again, and the next render walks.
        let site_links = r.site_links.load(Ordering::SeqCst);
        let kept = r.sites_kept(&config_now, site_links);
        let (config, store, last, published) = (
            config_now.clone(),
            r.store.clone(),
            r.last.clone(),
            r.published.clone(),
        );
        let started = std::time::Instant::now();
        r.introspect.render.start();
        let rendered = tokio::task::spawn_blocking(move || {
            // One walk of the feed states when a site link or the config
            // changed, for both the story outlets and the OPML.
            let (sites, opml) = kept.unwrap_or_else(|| {
                let sites = Arc::new(FeedSites::read(&config, &store));
                let opml = opml_document(&config, &sites);
                (sites, opml)
            });
            let outputs = render_outputs_with(&config, &store, &sites, |name| published.get(name))?;
            // Files first, so that once a render is published its files are
            // on disk too.
            for (output, rendered) in config.outputs.iter().zip(&outputs) {
                let changed = last.get(&output.name) != Some(&etags_of(rendered));
                if let (true, Some(prefix)) = (changed, &output.file) {
                    if let Err(e) = write_files(prefix, rendered) {
                        error!(output = %output.name, path = %prefix.display(), error = %e, "Cannot write output files.");
                    }
                }
            }
            let docs = publishable_with(&outputs, opml.clone());
            // Durable before served: everything this render read was
            // committed before it read, so a flush now means no subscriber
            // ever sees an item that a crash could take back.
            if let Err(e) = store.flush() {
                error!(error = %e, "Cannot flush the store before publishing; serving anyway.");
            }
            Ok::<_, StoreError>((outputs, docs, sites, opml))
        });
        // After sled failed a write for lack of space, a later write can
        // work and the flush after it never return (gdb: blocked in
        // `sled::pagecache::iobuf::make_stable`): a stop must not wait on
        // it, or `Daemon::shutdown` never reaches its bounded flush.
        let rendered = tokio::select! {
            _ = cancel.cancelled() => return,
            rendered = rendered => rendered,
        };
        r.introspect.render.end();
        let outputs = match rendered {
            Ok(Ok((outputs, docs, sites, opml))) => {
                r.published.publish(docs);
                r.sites = Some(SitesRead {
                    config: config_now.clone(),
                    site_links,
                    sites,
                    opml,
                });
                r.introspect.rendered(&outputs, started.elapsed());
                info!(stored, "Outputs rendered.");
                // A render's working memory (items, clusters, compressors)
                // is free now; the published documents stay.
                crate::memory::release();
                outputs
            }
            Ok(Err(e)) => {
                error!(error = %e, "Rendering outputs failed; serving the previous version.");
                continue;
            }
            Err(e) => {
                error!(error = %e, "Render task failed; serving the previous version.");
                continue;
            }
        };
        let now = etags(&outputs);
        for output in &config_now.outputs {
            if r.last.get(&output.name) == now.get(&output.name) {
                continue;
            }
            let meta = OutputMeta::new(output, &config_now.server.base_url);
            let topics = [meta.rss_url(), meta.atom_url(), meta.json_url()];
            for hub in &output.hubs {
                tokio::spawn(ping_hub(r.fetcher.clone(), hub.clone(), topics.to_vec()));
            }
        }
        r.last = now;
        // Bursts of changes (a poll round) coalesce into fewer renders.
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RENDER_GAP) => {}
        }
    }
}

/// Tells a WebSub hub that the topics changed, retrying a few times with
/// growing pauses; failures are logged, never propagated.
async fn ping_hub(fetcher: Fetcher, hub: url::Url, topics: Vec<String>) {
    for topic in topics {
        let mut delay = std::time::Duration::from_secs(2);
        for attempt in 1..=3 {
            match fetcher.websub_publish(&hub, &topic).await {
                Ok(()) => {
                    debug!(%hub, %topic, "WebSub hub notified.");
                    break;
                }
                Err(e) if attempt < 3 => {
                    warn!(%hub, %topic, attempt, error = %e, "WebSub ping failed; retrying.");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
                Err(e) => {
                    warn!(%hub, %topic, error = %e, "WebSub ping failed; giving up until the next change.")
                }
            }
        }
    }
}

/// `feedwire run`: the daemon until SIGTERM or SIGINT. SIGHUP, and edits of
/// the config file on disk (debounced), reload the config.
pub async fn run(config: Config) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let path = config.path.clone();
    // Every handler before the daemon starts: the server answers as soon as
    // it is bound, and a SIGTERM that came before its handler would kill
    // the process (exit by signal, not 0) instead of stopping it cleanly.
    // "Starting." is logged once they are in place.
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    info!(config = %config.summary(), "Starting.");
    let mut daemon = Daemon::start(config).await?;
    let (_watcher, mut edits) = watch_file(&path);
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                info!("SIGHUP: reloading the config.");
                let _ = daemon.reload().await;
            }
            Some(()) = edits.recv() => {
                info!(path = %path.display(), "Config file changed on disk: reloading.");
                let _ = daemon.reload().await;
            }
        }
    }
    info!("Shutting down.");
    daemon.shutdown().await
}

/// How long the config file must stay unchanged after an edit before it is
/// read: editors write in several steps, and operators save repeatedly.
pub const RELOAD_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Watches the config file's folder (editors replace files by renaming) and
/// yields once per burst of edits to the file, after [`RELOAD_DEBOUNCE`] of
/// quiet. The watcher lives as long as the returned handle.
fn watch_file(
    path: &Path,
) -> (
    Option<notify::RecommendedWatcher>,
    tokio::sync::mpsc::Receiver<()>,
) {
    use notify::Watcher;
    let (raw_tx, mut raw_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let name = path.file_name().map(|n| n.to_owned());
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            let ours = event.paths.iter().any(|p| p.file_name() == name.as_deref());
            if ours && (event.kind.is_modify() || event.kind.is_create()) {
                let _ = raw_tx.send(());
            }
        }
    });
    let watcher = match watcher {
        Ok(mut w) => match w.watch(&dir, notify::RecursiveMode::NonRecursive) {
            Ok(()) => {
                debug!(path = %path.display(), "Watching the config file.");
                Some(w)
            }
            Err(e) => {
                warn!(path = %dir.display(), error = %e, "Cannot watch the config folder; reload with SIGHUP.");
                None
            }
        },
        Err(e) => {
            warn!(error = %e, "Cannot watch the config file; reload with SIGHUP.");
            None
        }
    };
    tokio::spawn(async move {
        while raw_rx.recv().await.is_some() {
            // Debounce: wait until no event arrives for a while.
            loop {
                match tokio::time::timeout(RELOAD_DEBOUNCE, raw_rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            if tx.send(()).await.is_err() {
                return;
            }
        }
    });
    (watcher, rx)
}
