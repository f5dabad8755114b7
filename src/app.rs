//! Wiring: opens the store, starts the poller, the renderer and the server,
//! and shuts them down in order. No feed, HTML or HTTP logic lives here.
//!
//! Shutdown order: stop accepting requests and stop polling (in-flight
//! fetches are dropped; they are idempotent and retried next start), wait for
//! the tasks, then flush the store so that nothing acknowledged is lost.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, OutputConfig};
use crate::fetch::Fetcher;
use crate::generate::{render_atom, render_rss, OutputMeta};
use crate::item::Item;
use crate::poller::{self, FeedReport, PollContext, PollReport};
use crate::server::{self, Introspect, Published, Representation};
use crate::status;
use crate::store::{Store, StoreError};

/// Media types of the served documents.
pub const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";
pub const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";

/// Renders every output from the store, keyed by served file name.
pub fn render_outputs(
    config: &Config,
    store: &Store,
) -> Result<HashMap<String, Arc<Representation>>, StoreError> {
    let mut docs = HashMap::new();
    for output in &config.outputs {
        let items = select(config, store, output)?;
        let meta = OutputMeta {
            output,
            base_url: &config.server.base_url,
        };
        let last_modified = items.iter().map(|i| i.first_seen).max();
        docs.insert(
            format!("{}.rss", output.name),
            Arc::new(Representation::new(
                RSS_TYPE,
                render_rss(&meta, &items),
                last_modified,
            )),
        );
        docs.insert(
            format!("{}.atom", output.name),
            Arc::new(Representation::new(
                ATOM_TYPE,
                render_atom(&meta, &items),
                last_modified,
            )),
        );
    }
    Ok(docs)
}

/// The newest items of an output: those carried by at least one feed the
/// output selects by tag. The selected feeds come first among an item's
/// sources, so that the output attributes the item to one of its own feeds.
fn select(config: &Config, store: &Store, output: &OutputConfig) -> Result<Vec<Item>, StoreError> {
    let feeds: HashSet<String> = config.feeds_of(output).map(|f| f.url.to_string()).collect();
    let mut items = store.recent(output.max_items, |item| {
        item.sources.iter().any(|s| feeds.contains(&s.feed_url))
    })?;
    for item in &mut items {
        // Stable: keeps the order in which the feeds carried the item.
        item.sources.sort_by_key(|s| !feeds.contains(&s.feed_url));
    }
    Ok(items)
}

/// Opens the store with a message that names its path.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.storage.path)
        .with_context(|| format!("opening store {}", config.storage.path.display()))
}

/// `feedwire poll-once`: every feed once, then render.
pub async fn poll_once(config: &Config) -> anyhow::Result<PollOnceReport> {
    let store = open_store(config)?;
    let fetcher = Fetcher::new(&config.poll).context("building the HTTP client")?;
    let ctx = PollContext::new(store.clone(), fetcher, Arc::new(SystemClock), config);
    let (report, feeds) = poller::poll_all(&ctx, config).await;
    let docs = tokio::task::spawn_blocking({
        let (config, store) = (config.clone(), store.clone());
        move || render_outputs(&config, &store)
    })
    .await
    .context("render task")??;
    store.flush().context("flushing the store")?;
    let mut rendered: Vec<(String, usize)> = docs.iter().map(|(k, v)| (k.clone(), v.body.len())).collect();
    rendered.sort();
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

/// What `poll-once` did, for its summary.
#[derive(Debug)]
pub struct PollOnceReport {
    pub totals: PollReport,
    /// Failed feeds: (URL, error).
    pub failures: Vec<(String, String)>,
    /// Rendered documents: (file name, bytes).
    pub rendered: Vec<(String, usize)>,
    pub items_stored: usize,
}

/// A running daemon. Dropping it does not stop it; call [`Daemon::shutdown`].
pub struct Daemon {
    /// The address the server is bound to.
    pub addr: SocketAddr,
    cancel: CancellationToken,
    store: Store,
    published: Arc<Published>,
    server: JoinHandle<std::io::Result<()>>,
    poller: JoinHandle<()>,
    renderer: JoinHandle<()>,
    reports: broadcast::Sender<FeedReport>,
}

struct DaemonIntrospect {
    poller_running: Arc<AtomicBool>,
    store: Store,
    config: Arc<Config>,
}

impl Introspect for DaemonIntrospect {
    fn health(&self) -> Result<(), String> {
        if !self.poller_running.load(Ordering::Relaxed) {
            return Err("poller stopped".into());
        }
        self.store.feed_state("").map(|_| ()).map_err(|e| e.to_string())
    }

    fn status_json(&self) -> Vec<u8> {
        let feeds = status::collect(&self.config, |url| self.store.feed_state(url).ok().flatten());
        serde_json::to_vec_pretty(&feeds).expect("status serialises")
    }
}

/// Clears the flag when the poller task ends, however it ends.
struct RunningGuard(Arc<AtomicBool>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
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
        published.publish(render_outputs(&config, &store).context("rendering outputs from the store")?);

        let listener = server::bind(config.server.listen)
            .await
            .with_context(|| format!("binding {}", config.server.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let cancel = CancellationToken::new();
        let poller_running = Arc::new(AtomicBool::new(true));
        let introspect = Arc::new(DaemonIntrospect {
            poller_running: poller_running.clone(),
            store: store.clone(),
            config: config.clone(),
        });
        let max_age = config.poll.interval.as_secs().min(300);
        let router = server::router(published.clone(), introspect, max_age);
        let server = tokio::spawn(server::serve(listener, router, cancel.clone()));

        let changed = Arc::new(Notify::new());
        let (reports, _) = broadcast::channel(1024);
        let poller = tokio::spawn({
            let ctx = PollContext::new(store.clone(), fetcher, clock, &config);
            let (config, cancel, changed, reports) =
                (config.clone(), cancel.clone(), changed.clone(), reports.clone());
            async move {
                let _guard = RunningGuard(poller_running);
                poller::run(ctx, config, cancel, changed, reports).await
            }
        });
        let renderer = tokio::spawn(render_loop(
            config.clone(),
            store.clone(),
            published.clone(),
            changed,
            cancel.clone(),
        ));
        info!(%addr, feeds = config.feeds.len(), outputs = config.outputs.len(), items = store.item_count(), "Listening.");
        Ok(Daemon {
            addr,
            cancel,
            store,
            published,
            server,
            poller,
            renderer,
            reports,
        })
    }

    /// Stops serving and polling, waits for the tasks, flushes the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        let (server, _, _) = tokio::join!(self.server, self.poller, self.renderer);
        if let Ok(Err(e)) = server {
            error!(error = %e, "Server ended with an error.");
        }
        let store = self.store;
        tokio::task::spawn_blocking(move || store.flush())
            .await
            .context("flush task")?
            .context("flushing the store")?;
        info!("Stopped.");
        Ok(())
    }

    /// The documents being served; `subscribe()` on it to wait for renders.
    pub fn published(&self) -> Arc<Published> {
        self.published.clone()
    }

    /// Every feed poll's report, as it completes.
    pub fn reports(&self) -> broadcast::Receiver<FeedReport> {
        self.reports.subscribe()
    }

    /// A token that stops the daemon when cancelled.
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

/// Re-renders whenever the poller reports new items. Notifications that
/// arrive during a render coalesce into one more render.
async fn render_loop(
    config: Arc<Config>,
    store: Store,
    published: Arc<Published>,
    changed: Arc<Notify>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = changed.notified() => {}
        }
        // Counted before rendering, so the render holds at least this many.
        let stored = store.item_count();
        let (config, store2) = (config.clone(), store.clone());
        match tokio::task::spawn_blocking(move || render_outputs(&config, &store2)).await {
            Ok(Ok(docs)) => {
                published.publish(docs);
                info!(stored, "Outputs rendered.");
            }
            Ok(Err(e)) => error!(error = %e, "Rendering outputs failed; serving the previous version."),
            Err(e) => error!(error = %e, "Render task failed; serving the previous version."),
        }
    }
}

/// `feedwire run`: the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    info!(config = %config.summary(), "Starting.");
    let daemon = Daemon::start(config).await?;
    shutdown_signal().await;
    info!("Shutting down.");
    daemon.shutdown().await
}

/// Resolves on the first SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
