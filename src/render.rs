//! Rendering: selects each output's items from the store and turns them into
//! the served documents (RSS, Atom, JSON Feed, OPML), with their validators
//! and compressed copies. Reads the store; writes only the optional output
//! files. The daemon calls it from its renderer task, the CLI from `render`
//! and `poll-once`.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::cluster::{self, ClusterConfig};
use crate::config::{Config, OutputConfig};
use crate::generate::{item_id, write_atom, write_json, write_rss, OutputMeta, Related};
use crate::item::{Item, ItemKey};
use crate::opml;
use crate::select::Rules;
use crate::server::Representation;
use crate::store::{Store, StoreError};

/// Media types of the served documents.
pub const RSS_TYPE: &str = "application/rss+xml; charset=utf-8";
pub const ATOM_TYPE: &str = "application/atom+xml; charset=utf-8";
pub const JSON_TYPE: &str = "application/feed+json; charset=utf-8";
pub const OPML_TYPE: &str = "text/x-opml; charset=utf-8";

/// The documents of one output, in the order of [`FORMATS`].
pub struct RenderedOutput {
    pub name: String,
    pub title: String,
    /// Items the output carries.
    pub items: usize,
    pub docs: Vec<(String, Arc<Representation>)>,
    /// Served but not written to files: `{output}/clusters.json`.
    pub extra: Vec<(String, Arc<Representation>)>,
    /// Story clusters with more than one outlet, and the items merged into
    /// them (0 when clustering is off).
    pub clusters: usize,
    pub clustered_items: usize,
    /// When the output is full (`max_items` carried), the seconds between
    /// its newest and its oldest item's date: how long an item stays in
    /// it. A subscriber polling less often misses items. `None` while the
    /// output carries every item it selects.
    pub span: Option<i64>,
}

/// Served extensions and their media types.
pub const FORMATS: [(&str, &str); 3] = [("rss", RSS_TYPE), ("atom", ATOM_TYPE), ("json", JSON_TYPE)];

/// One output's items, selected from the store, and what its documents
/// need besides them.
struct Selected<'a> {
    items: Vec<Item>,
    meta: OutputMeta<'a>,
    /// `clusters.json`, the clusters and the items merged into them, when
    /// clustering is on.
    clustering: Option<(serde_json::Value, usize, usize)>,
    last_modified: Option<i64>,
}

impl Selected<'_> {
    /// See [`RenderedOutput::span`].
    fn span(&self, output: &OutputConfig) -> Option<i64> {
        if self.items.len() < output.max_items {
            return None;
        }
        let dates = self.items.iter().map(|i| i.date);
        Some(dates.clone().max()? - dates.min()?)
    }

    /// The document in format `ext` (one of [`FORMATS`]).
    fn body(&self, ext: &str) -> Vec<u8> {
        self.write(ext, Vec::new()).expect("writing to a Vec cannot fail")
    }

    /// [`Selected::body`] into `out`.
    fn write<W: Write>(&self, ext: &str, out: W) -> io::Result<W> {
        match ext {
            "rss" => write_rss(&self.meta, &self.items, out),
            "atom" => write_atom(&self.meta, &self.items, out),
            _ => write_json(&self.meta, &self.items, out),
        }
    }

    /// `{output}/clusters.json`, when clustering is on.
    fn listing(&self, output: &OutputConfig) -> Option<(String, Vec<u8>)> {
        self.clustering.as_ref().map(|(listing, _, _)| {
            (
                format!("{}/{CLUSTERS}", output.name),
                serde_json::to_vec_pretty(listing).expect("JSON values serialise"),
            )
        })
    }
}

fn select_output<'a>(
    config: &'a Config,
    store: &Store,
    sites: &FeedSites,
    output: &'a OutputConfig,
) -> Result<Selected<'a>, StoreError> {
    let (items, meta, clustering) = match &output.cluster {
        None => (
            select(config, store, sites, output, output.max_items)?,
            OutputMeta::new(output, &config.server.base_url),
            None,
        ),
        Some(cluster) => {
            let c = clustered(config, store, sites, output, cluster)?;
            let meta = OutputMeta::new(output, &config.server.base_url).with_related(c.related);
            (c.entries, meta, Some((c.listing, c.clusters, c.merged)))
        }
    };
    let last_modified = items.iter().map(|i| i.first_seen).max();
    Ok(Selected {
        items,
        meta,
        clustering,
        last_modified,
    })
}

/// Renders every output from the store.
///
/// Compressed copies are not made here: the server makes each on the first
/// request for it (see `server::Representation`).
pub fn render_outputs(config: &Config, store: &Store) -> Result<Vec<RenderedOutput>, StoreError> {
    render_outputs_over(config, store, |_| None)
}

/// [`render_outputs`], keeping each document of `previous` (by file name,
/// as published) whose body comes out the same, with the compressed copies
/// it already has: during a full-text backlog most renders change none of
/// an output's items, and a kept document's new body is dropped as soon as
/// it is hashed, so such a render holds one document besides the items.
pub fn render_outputs_over(
    config: &Config,
    store: &Store,
    previous: impl Fn(&str) -> Option<Arc<Representation>>,
) -> Result<Vec<RenderedOutput>, StoreError> {
    render_outputs_with(config, store, &FeedSites::for_outlets(config, store), previous)
}

/// [`render_outputs_over`] with the feeds' site links already read (the
/// daemon keeps them while no poll saved a new one), for `config`.
pub fn render_outputs_with(
    config: &Config,
    store: &Store,
    sites: &FeedSites,
    previous: impl Fn(&str) -> Option<Arc<Representation>>,
) -> Result<Vec<RenderedOutput>, StoreError> {
    let mut rendered = Vec::new();
    for output in &config.outputs {
        let selected = select_output(config, store, sites, output)?;
        let last_modified = selected.last_modified;
        let document = |name: String, media_type: &'static str, body: Vec<u8>| {
            let doc = Representation::new(media_type, body, last_modified).reuse(previous(&name).as_ref());
            (name, doc)
        };
        let docs = FORMATS
            .iter()
            .map(|&(ext, media_type)| {
                document(format!("{}.{ext}", output.name), media_type, selected.body(ext))
            })
            .collect();
        let extra = selected
            .listing(output)
            .map(|(name, body)| document(name, "application/json", body))
            .into_iter()
            .collect();
        let items = selected.items.len();
        let span = selected.span(output);
        let (clusters, clustered_items) = selected.clustering.as_ref().map_or((0, 0), |(_, c, m)| (*c, *m));
        drop(selected);
        rendered.push(RenderedOutput {
            name: output.name.clone(),
            title: output.title.clone(),
            items,
            docs,
            extra,
            clusters,
            clustered_items,
            span,
        });
    }
    Ok(rendered)
}

/// Renders the outputs `wanted` picks one document at a time, as plain
/// bytes, and hands each to `sink` with the output and its file name
/// (`{name}.{ext}`, then `{name}/clusters.json` when clustering is on)
/// before the next is built. For `poll-once`, which serves nothing: no
/// compressed copies, no validators, and one document in memory at a time
/// instead of every output's three with their gzip and brotli copies (the
/// largest part of a cold `poll-once`'s peak, BENCHMARKS.md Run 7); nor is
/// the document itself held: the sink writes it where it goes
/// ([`Document::write_to`]).
pub fn render_each<E>(
    config: &Config,
    store: &Store,
    wanted: impl Fn(&OutputConfig) -> bool,
    mut sink: impl FnMut(&OutputConfig, &str, Document<'_>) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<StoreError>,
{
    let sites = FeedSites::for_outlets(config, store);
    for output in config.outputs.iter().filter(|o| wanted(o)) {
        let selected = select_output(config, store, &sites, output)?;
        for (ext, _) in FORMATS {
            let doc = Document {
                selected: &selected,
                ext,
            };
            sink(output, &format!("{}.{ext}", output.name), doc)?;
        }
        if selected.clustering.is_some() {
            let doc = Document {
                selected: &selected,
                ext: CLUSTERS,
            };
            sink(output, &format!("{}/{CLUSTERS}", output.name), doc)?;
        }
    }
    Ok(())
}

/// The name of an output's cluster listing (`{output}/clusters.json`).
const CLUSTERS: &str = "clusters.json";

/// One document of an output, not yet written (see [`render_each`]).
pub struct Document<'a> {
    selected: &'a Selected<'a>,
    /// One of [`FORMATS`]' extensions, or [`CLUSTERS`].
    ext: &'static str,
}

impl Document<'_> {
    /// Writes the document into `out` as it is generated (the same bytes
    /// as the served document) and returns `out` with the bytes written.
    pub fn write_to<W: Write>(&self, out: W) -> io::Result<Counted<W>> {
        let out = Counted { inner: out, bytes: 0 };
        match (self.ext, &self.selected.clustering) {
            (CLUSTERS, Some((listing, _, _))) => {
                let mut out = out;
                serde_json::to_writer_pretty(&mut out, listing)?;
                Ok(out)
            }
            (ext, _) => self.selected.write(ext, out),
        }
    }
}

/// A writer that counts the bytes it passes on.
pub struct Counted<W> {
    pub inner: W,
    pub bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Renders every document the server publishes, keyed by file name.
pub fn render_all(
    config: &Config,
    store: &Store,
) -> Result<HashMap<String, Arc<Representation>>, StoreError> {
    let sites = FeedSites::read(config, store);
    let outputs = render_outputs_with(config, store, &sites, |_| None)?;
    Ok(publishable_with(&outputs, opml_document(config, &sites)))
}

/// Everything the server publishes: every output's documents and the OPML
/// list of sources.
pub fn publishable(
    config: &Config,
    store: &Store,
    outputs: &[RenderedOutput],
) -> HashMap<String, Arc<Representation>> {
    publishable_with(outputs, opml_document(config, &FeedSites::read(config, store)))
}

/// [`publishable`] with an OPML document already made (the daemon keeps
/// one while no feed's site link changed).
pub fn publishable_with(
    outputs: &[RenderedOutput],
    opml: Arc<Representation>,
) -> HashMap<String, Arc<Representation>> {
    let mut docs: HashMap<String, Arc<Representation>> = outputs
        .iter()
        .flat_map(|o| o.docs.iter().chain(&o.extra).cloned())
        .collect();
    docs.insert(OPML_FILE.into(), opml);
    docs
}

/// The name the OPML list of sources is published under.
pub const OPML_FILE: &str = "feeds.opml";

/// The OPML list of sources, with each feed's site link: a line per
/// configured feed, so its cost grows with the feed count.
pub fn opml_document(config: &Config, sites: &FeedSites) -> Arc<Representation> {
    Arc::new(Representation::new(
        OPML_TYPE,
        opml::export(config, &sites.by_feed, true).into_bytes(),
        None,
    ))
}

/// The site link each configured feed last gave (its channel link), for
/// the OPML, and the story outlets made from them, for clustering. Reading
/// them walks every saved feed state: with 100,000 feeds that walk was most
/// of a render, and renders run back to back while a round brings items,
/// so the daemon reads them once and keeps them while neither the config
/// nor a saved site link changed (BENCHMARKS.md, Run 14). Belongs to the
/// config it was read for.
#[derive(Debug, Default)]
pub struct FeedSites {
    /// Feed URL -> site URL, for configured feeds that gave one.
    by_feed: HashMap<String, String>,
    /// Each feed's outlet (see [`outlets`]); empty when no output clusters.
    outlets: cluster::Outlets,
    /// Which feeds each output selects; `None` in [`FeedSites::default`]
    /// (each render then works it out itself).
    selection: Option<Selection>,
    /// False when the store could not be read: nothing to keep for later
    /// renders (see [`FeedSites::complete`]).
    complete: bool,
}

impl FeedSites {
    /// Walks the saved feed states once. A store that cannot be read gives
    /// no site links (logged): the documents are made without them.
    pub fn read(config: &Config, store: &Store) -> FeedSites {
        let configured: HashSet<&str> = config.feeds.iter().map(|f| f.url.as_str()).collect();
        let mut by_feed = HashMap::new();
        let walked = store.for_each_feed_site(|url, site| {
            if let (true, Some(site)) = (configured.contains(url), site) {
                by_feed.insert(url.to_owned(), site);
            }
            true
        });
        if let Err(e) = &walked {
            tracing::warn!(error = %e, "Cannot read the feeds' site links; rendering without them.");
        }
        let outlets = if config.outputs.iter().any(|o| o.cluster.is_some()) {
            outlets(config, &by_feed)
        } else {
            cluster::Outlets::new()
        };
        FeedSites {
            by_feed,
            outlets,
            selection: Selection::new(config),
            complete: walked.is_ok(),
        }
    }

    /// Whether every saved state was read. A render may keep these for the
    /// next one only then: after a failed read the next render reads again,
    /// instead of serving outlets and an OPML without site links until one
    /// changes.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// What the outputs need of the site links: read only when an output
    /// clusters (its outlets), nothing otherwise (no OPML is made); and
    /// which feeds each output selects.
    pub fn for_outlets(config: &Config, store: &Store) -> FeedSites {
        if config.outputs.iter().any(|o| o.cluster.is_some()) {
            FeedSites::read(config, store)
        } else {
            FeedSites {
                selection: Selection::new(config),
                ..FeedSites::default()
            }
        }
    }

    /// The number of configured feeds with a site link.
    pub fn len(&self) -> usize {
        self.by_feed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_feed.is_empty()
    }
}

/// Which configured feeds each output selects by tag, worked out with each
/// read of the site links and kept with them ([`FeedSites`], which the
/// daemon keeps while neither the config nor a site link changed): a set
/// of every selected feed's URL built on each render made a render's cost
/// grow with the feed count, though its items did not (BENCHMARKS.md,
/// Run 15). Kept as a hash of each URL and a bit per feed and output, not
/// as URLs: the config holds those already, and a set of them per output
/// would keep megabytes per output at 100,000 feeds.
#[derive(Debug)]
struct Selection {
    hasher: RandomState,
    /// A feed URL's hash -> the feed's index in `Config::feeds`.
    by_hash: HashMap<u64, u32>,
    /// Output name -> a bit per configured feed, set when it selects it.
    outputs: HashMap<String, Vec<u64>>,
    /// `Config::feeds.len()` when made.
    feeds: usize,
}

impl Selection {
    /// `None` when two configured URLs share a hash (renders then build
    /// their sets as before) or there are more feeds than a `u32` counts.
    fn new(config: &Config) -> Option<Selection> {
        let hasher = RandomState::new();
        let mut by_hash = HashMap::with_capacity(config.feeds.len());
        for (i, feed) in config.feeds.iter().enumerate() {
            let i = u32::try_from(i).ok()?;
            if by_hash.insert(hasher.hash_one(feed.url.as_str()), i).is_some() {
                return None;
            }
        }
        let words = config.feeds.len().div_ceil(64);
        let outputs = config
            .outputs
            .iter()
            .map(|output| {
                let mut bits = vec![0u64; words];
                for (i, feed) in config.feeds.iter().enumerate() {
                    if output.selects(feed) {
                        bits[i / 64] |= 1 << (i % 64);
                    }
                }
                (output.name.clone(), bits)
            })
            .collect();
        Some(Selection {
            hasher,
            by_hash,
            outputs,
            feeds: config.feeds.len(),
        })
    }
}

/// The feeds an output selects, to test an item's sources against.
enum Selects<'a> {
    /// From a [`Selection`] made for this config.
    Kept {
        config: &'a Config,
        selection: &'a Selection,
        bits: &'a [u64],
    },
    /// Built for this render.
    Built(HashSet<&'a str>),
}

impl<'a> Selects<'a> {
    fn new(config: &'a Config, sites: &'a FeedSites, output: &'a OutputConfig) -> Selects<'a> {
        let kept = sites.selection.as_ref().and_then(|selection| {
            let bits = selection.outputs.get(&output.name)?;
            (selection.feeds == config.feeds.len()).then_some(Selects::Kept {
                config,
                selection,
                bits,
            })
        });
        kept.unwrap_or_else(|| Selects::Built(config.feeds_of(output).map(|f| f.url.as_str()).collect()))
    }

    fn contains(&self, url: &str) -> bool {
        match self {
            Selects::Kept {
                config,
                selection,
                bits,
            } => selection
                .by_hash
                .get(&selection.hasher.hash_one(url))
                .map(|&i| i as usize)
                // The hash picks the feed; its URL decides (an item's
                // source may be a feed no longer configured).
                .filter(|&i| config.feeds.get(i).is_some_and(|f| f.url.as_str() == url))
                .is_some_and(|i| bits.get(i / 64).is_some_and(|w| (w >> (i % 64)) & 1 == 1)),
            Selects::Built(set) => set.contains(url),
        }
    }
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
fn select(
    config: &Config,
    store: &Store,
    sites: &FeedSites,
    output: &OutputConfig,
    limit: usize,
) -> Result<Vec<Item>, StoreError> {
    let feeds = Selects::new(config, sites, output);
    let rules = Rules::new(
        &output.categories,
        &output.keywords,
        &output.exclude_keywords,
        &output.languages,
    );
    // Items waiting for their full text (at most `full_text_timeout`) are
    // passed over before they are read: a cold round holds nearly every
    // item, and decoding them only to drop them was the full-text farm's
    // largest memory cost (BENCHMARKS.md); nor is the set of held keys
    // built for every render (Run 5).
    let mut items = store.recent_unheld(limit, scan_limit(output), |item| {
        item.sources.iter().any(|s| feeds.contains(&s.feed_url))
            && rules.matches(item, output.language.as_deref())
    })?;
    for item in &mut items {
        // Stable: keeps the order in which the feeds carried the item.
        item.sources.sort_by_key(|s| !feeds.contains(&s.feed_url));
    }
    Ok(items)
}

/// The outlet of every configured feed that has one: its `outlet` key, else
/// the registrable domain of the site link it last gave (see
/// [`cluster::Outlets`]).
fn outlets(config: &Config, sites: &HashMap<String, String>) -> cluster::Outlets {
    let mut outlets = cluster::Outlets::new();
    for feed in &config.feeds {
        let url = feed.url.as_str();
        match &feed.outlet {
            Some(name) => outlets.insert(url, name),
            None => {
                if let Some(site) = sites.get(url) {
                    outlets.insert_site(url, site);
                }
            }
        }
    }
    outlets
}

/// An output's entries with story clustering on.
struct Clustered {
    /// One entry per story: its lead item, dated by when it last grew.
    entries: Vec<Item>,
    /// The other outlets' reports, by lead.
    related: HashMap<ItemKey, Vec<Related>>,
    /// `clusters.json`: every story with more than one outlet.
    listing: serde_json::Value,
    clusters: usize,
    merged: usize,
}

/// Groups an output's recent items into stories (see `cluster`). The
/// candidates are the newest `4 × max_items` selected items; each story
/// becomes one entry led by its earliest report, keeping that item's id (so
/// readers do not see it as new when outlets join), with `updated` and
/// `Last-Modified` moved to when the last outlet joined.
fn clustered(
    config: &Config,
    store: &Store,
    sites: &FeedSites,
    output: &OutputConfig,
    cfg: &ClusterConfig,
) -> Result<Clustered, StoreError> {
    let candidates = select(config, store, sites, output, (output.max_items * 4).min(10_000))?;
    let groups = cluster::group(&candidates, cfg, &sites.outlets);
    let mut out = Clustered {
        entries: Vec::new(),
        related: HashMap::new(),
        listing: serde_json::Value::Null,
        clusters: 0,
        merged: 0,
    };
    let mut listing = Vec::new();
    let outlet = |item: &Item| {
        item.sources
            .first()
            .map(|s| s.feed_name.clone())
            .unwrap_or_default()
    };
    for g in groups.iter().take(output.max_items) {
        let mut lead = candidates[g.lead].clone();
        if !g.others.is_empty() {
            let grown = g.others.iter().map(|(i, _)| candidates[*i].first_seen).max();
            if let Some(t) = grown.filter(|t| *t > lead.first_seen) {
                lead.first_seen = t;
                // A revision of the lead's text later than the join stays
                // its last update.
                lead.updated = Some(lead.updated.map_or(t, |u| u.max(t)));
            }
            let related: Vec<Related> = g
                .others
                .iter()
                .map(|(i, score)| {
                    let o = &candidates[*i];
                    Related {
                        outlet: outlet(o),
                        title: o.title.clone(),
                        link: o.link.clone(),
                        score: *score,
                    }
                })
                .collect();
            out.clusters += 1;
            out.merged += related.len();
            let member = |item: &Item, score: f64| {
                serde_json::json!({
                    "key": item.key.as_str(), "outlet": outlet(item), "title": item.title,
                    "url": item.link, "score": score,
                })
            };
            let mut members = vec![member(&candidates[g.lead], 1.0)];
            members.extend(g.others.iter().map(|(i, score)| member(&candidates[*i], *score)));
            listing.push(serde_json::json!({
                "id": g.id,
                "entry_id": item_id(&lead).0,
                "updated": chrono::DateTime::from_timestamp(lead.first_seen, 0).map(|d| d.to_rfc3339()),
                "members": members,
            }));
            out.related.insert(lead.key.clone(), related);
        }
        out.entries.push(lead);
    }
    out.listing = serde_json::json!({
        "output": output.name,
        "window_seconds": cfg.window.as_secs(),
        "threshold": cfg.threshold,
        "candidates": candidates.len(),
        "clusters": listing,
    });
    Ok(out)
}

/// Writes an output's documents next to `prefix` (`{prefix}.rss`, ...), each
/// through a temporary file and a rename, so a web server never serves a
/// half-written file.
pub fn write_files(prefix: &Path, output: &RenderedOutput) -> std::io::Result<()> {
    for (name, doc) in &output.docs {
        write_file(prefix, name, &doc.body)?;
    }
    Ok(())
}

/// Writes one document of an output (`name` ends in its format's
/// extension) as `{prefix}.{ext}`, through a temporary file and a rename.
pub fn write_file(prefix: &Path, name: &str, body: &[u8]) -> std::io::Result<()> {
    write_file_with(prefix, name, |file| file.write_all(body))
}

/// [`write_file`], the body written into the file by `write` (through a
/// buffer) rather than held whole beforehand.
pub fn write_file_with(
    prefix: &Path,
    name: &str,
    write: impl FnOnce(&mut io::BufWriter<std::fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    if let Some(dir) = prefix.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let ext = name.rsplit('.').next().unwrap_or_default();
    let target = PathBuf::from(format!("{}.{ext}", prefix.display()));
    let tmp = PathBuf::from(format!("{}.{ext}.tmp", prefix.display()));
    let mut file = io::BufWriter::new(std::fs::File::create(&tmp)?);
    write(&mut file)?;
    file.into_inner().map_err(io::IntoInnerError::into_error)?;
    std::fs::rename(&tmp, &target)
}

/// `feedwire render --out DIR`: renders every output from the store into
/// `DIR/{name}.{rss,atom,json}` and returns the files written.
pub fn render_to_dir(config: &Config, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let store = Store::open_configured(&config.storage)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept selection and a set built for the render agree, for every
    /// configured feed and for a source no longer configured.
    #[test]
    fn kept_selection_agrees_with_a_built_one() {
        let text = "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"http://feeds.test/\"\n\n\
             [[output]]\nname = \"misr\"\ntags = [\"مصر\"]\n\n\
             [[output]]\nname = \"all\"\n\n\
             [[feed]]\nurl = \"http://127.0.0.1:1/الجزيرة.xml\"\nname = \"الجزيرة\"\ntags = [\"سياسة\"]\n\n\
             [[feed]]\nurl = \"http://127.0.0.1:1/youm7.xml\"\nname = \"اليوم السابع\"\ntags = [\"مصر\", \"سياسة\"]\n";
        let dir = tempfile::tempdir().unwrap();
        let config = Config::parse(&dir.path().join("feeds.toml"), text).unwrap();
        let kept = FeedSites {
            selection: Selection::new(&config),
            ..FeedSites::default()
        };
        let built = FeedSites::default();
        let mut urls: Vec<String> = config.feeds.iter().map(|f| f.url.to_string()).collect();
        urls.push("http://127.0.0.1:1/removed.xml".into());
        for output in &config.outputs {
            let (k, b) = (
                Selects::new(&config, &kept, output),
                Selects::new(&config, &built, output),
            );
            assert!(matches!(k, Selects::Kept { .. }) && matches!(b, Selects::Built(_)));
            for url in &urls {
                assert_eq!(k.contains(url), b.contains(url), "{} {url}", output.name);
            }
        }
        let egypt = Selects::new(&config, &kept, &config.outputs[0]);
        assert!(egypt.contains(&urls[1]) && !egypt.contains(&urls[0]) && !egypt.contains(&urls[2]));
        let all = Selects::new(&config, &kept, &config.outputs[1]);
        assert!(all.contains(&urls[0]) && all.contains(&urls[1]) && !all.contains(&urls[2]));
    }
}
