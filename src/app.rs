//! Wiring: opens the store, starts the poller, the renderer and the server,
//! and shuts them down in order. No feed, HTML or HTTP logic lives here.
//!
//! Shutdown order: stop accepting requests and stop polling (in-flight
//! fetches are dropped; they are idempotent and retried next start), wait for
//! the tasks, then flush the store so that nothing acknowledged is lost.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, OutputConfig};
use crate::fetch::Fetcher;
use crate::generate::{render_atom, render_json, render_rss, OutputMeta};
use crate::item::Item;
use crate::opml;
use crate::poller::{self, FeedReport, PollContext, PollReport};
use crate::select::Rules;
use crate::server::{self, Introspect, Published, Representation};
use crate::status;
use crate::store::{Store, StoreError};

/// Media types of the served documents.
pub const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";
pub const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";
pub const JSON_TYPE: &str = "application/feed+json; charset=utf-8";
pub const OPML_TYPE: &str = "text/x-opml; charset=utf-8";

/// The documents of one output, in the order of [`FORMATS`].
pub struct RenderedOutput {
    pub name: String,
    pub docs: Vec<(String, Arc<Representation>)>,
}

/// Served extensions and their media types.
pub const FORMATS: [(&str, &str); 3] = [("rss", RSS_TYPE), ("atom", ATOM_TYPE), ("json", JSON_TYPE)];

/// Renders every output from the store.
pub fn render_outputs(config: &Config, store: &Store) -> Result<Vec<RenderedOutput>, StoreError> {
    let mut rendered = Vec::new();
    for output in &config.outputs {
        let items = select(config, store, output)?;
        let meta = OutputMeta::new(output, &config.server.base_url);
        let last_modified = items.iter().map(|i| i.first_seen).max();
        let docs = FORMATS
            .iter()
            .map(|(ext, media_type)| {
                let body = match *ext {
                    "rss" => render_rss(&meta, &items),
                    "atom" => render_atom(&meta, &items),
                    _ => render_json(&meta, &items),
                };
                (
                    format!("{}.{ext}", output.name),
                    Arc::new(Representation::new(media_type, body, last_modified)),
                )
            })
            .collect();
        rendered.push(RenderedOutput {
            name: output.name.clone(),
            docs,
        });
    }
    Ok(rendered)
}

/// Renders every document the server publishes, keyed by file name.
pub fn render_all(
    config: &Config,
    store: &Store,
) -> Result<HashMap<String, Arc<Representation>>, StoreError> {
    Ok(publishable(config, store, &render_outputs(config, store)?))
}

/// Everything the server publishes: every output's documents and the OPML
/// list of sources.
fn publishable(
    config: &Config,
    store: &Store,
    outputs: &[RenderedOutput],
) -> HashMap<String, Arc<Representation>> {
    let mut docs: HashMap<String, Arc<Representation>> =
        outputs.iter().flat_map(|o| o.docs.iter().cloned()).collect();
    let sites: HashMap<String, String> = config
        .feeds
        .iter()
        .filter_map(|f| {
            let site = store.feed_state(f.url.as_str()).ok()??.site_url?;
            Some((f.url.to_string(), site))
        })
        .collect();
    docs.insert(
        "feeds.opml".into(),
        Arc::new(Representation::new(
            OPML_TYPE,
            opml::export(config, &sites).into_bytes(),
            None,
        )),
    );
    docs
}

/// At most this many stored items are examined per output render, however
/// selective its rules: a render's cost must not grow with the store.
fn scan_limit(output: &OutputConfig) -> usize {
    (output.max_items * 20).max(10_000)
}

/// The newest items of an output: carried by at least one feed the output
/// selects by tag, and passing its item rules. The selected feeds come first
/// among an item's sources, so that the output attributes the item to one of
/// its own feeds.
fn select(config: &Config, store: &Store, output: &OutputConfig) -> Result<Vec<Item>, StoreError> {
    let feeds: HashSet<String> = config.feeds_of(output).map(|f| f.url.to_string()).collect();
    let rules = Rules::new(
        &output.categories,
        &output.keywords,
        &output.exclude_keywords,
        &output.languages,
    );
    let mut items = store.recent(output.max_items, scan_limit(output), |item| {
        item.sources.iter().any(|s| feeds.contains(&s.feed_url))
            && rules.matches(item, output.language.as_deref())
    })?;
    for item in &mut items {
        // Stable: keeps the order in which the feeds carried the item.
        item.sources.sort_by_key(|s| !feeds.contains(&s.feed_url));
    }
    Ok(items)
}

/// Writes an output's documents next to `prefix` (`{prefix}.rss`, ...), each
/// through a temporary file and a rename, so a web server never serves a
/// half-written file.
pub fn write_files(prefix: &Path, output: &RenderedOutput) -> std::io::Result<()> {
    if let Some(dir) = prefix.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    for (name, doc) in &output.docs {
        let ext = name.rsplit('.').next().unwrap_or_default();
        let target = PathBuf::from(format!("{}.{ext}", prefix.display()));
        let tmp = PathBuf::from(format!("{}.{ext}.tmp", prefix.display()));
        std::fs::write(&tmp, &doc.body)?;
        std::fs::rename(&tmp, &target)?;
    }
    Ok(())
}

/// `feedwire render --out DIR`: renders every output from the store into
/// `DIR/{name}.{rss,atom,json}` and returns the files written.
pub fn render_to_dir(config: &Config, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let store = open_store(config)?;
    let outputs = render_outputs(config, &store).context("reading the store")?;
    let mut written = Vec::new();
    for output in &outputs {
        let prefix = dir.join(&output.name);
        write_files(&prefix, output).with_context(|| format!("writing {}", prefix.display()))?;
        written.extend(
            FORMATS
                .iter()
                .map(|(ext, _)| dir.join(format!("{}.{ext}", output.name))),
        );
    }
    Ok(written)
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
        move || render_all(&config, &store)
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
        let outputs = render_outputs(&config, &store).context("rendering outputs from the store")?;
        published.publish(publishable(&config, &store, &outputs));
        let fetcher_for_hubs = fetcher.clone();

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
            Renderer {
                config: config.clone(),
                store: store.clone(),
                published: published.clone(),
                fetcher: fetcher_for_hubs,
                last: etags(&outputs),
            },
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

/// What the renderer task owns.
struct Renderer {
    config: Arc<Config>,
    store: Store,
    published: Arc<Published>,
    fetcher: Fetcher,
    /// Each output's ETags at its last render, to act only on real changes.
    last: HashMap<String, Vec<String>>,
}

fn etags(outputs: &[RenderedOutput]) -> HashMap<String, Vec<String>> {
    outputs
        .iter()
        .map(|o| {
            (
                o.name.clone(),
                o.docs.iter().map(|(_, d)| d.etag.clone()).collect(),
            )
        })
        .collect()
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
        }
        // Counted before rendering, so the render holds at least this many.
        let stored = r.store.item_count();
        let (config, store) = (r.config.clone(), r.store.clone());
        let rendered = tokio::task::spawn_blocking(move || {
            let outputs = render_outputs(&config, &store)?;
            let docs = publishable(&config, &store, &outputs);
            Ok::<_, StoreError>((outputs, docs))
        })
        .await;
        let outputs = match rendered {
            Ok(Ok((outputs, docs))) => {
                r.published.publish(docs);
                info!(stored, "Outputs rendered.");
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
        for (output, rendered) in r.config.outputs.iter().zip(outputs) {
            if r.last.get(&output.name) == now.get(&output.name) {
                continue;
            }
            if let Some(prefix) = output.file.clone() {
                let name = output.name.clone();
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = write_files(&prefix, &rendered) {
                        error!(output = %name, path = %prefix.display(), error = %e, "Cannot write output files.");
                    }
                });
            }
            let meta = OutputMeta::new(output, &r.config.server.base_url);
            let topics = [meta.rss_url(), meta.atom_url(), meta.json_url()];
            for hub in &output.hubs {
                tokio::spawn(ping_hub(r.fetcher.clone(), hub.clone(), topics.to_vec()));
            }
        }
        r.last = now;
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
