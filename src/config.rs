//! `feeds.toml`: what to aggregate and how the output looks.
//!
//! Loading happens in two stages, as in ripgrep: serde reads a [`RawConfig`]
//! of spanned strings (`deny_unknown_fields`, so a typo fails loudly), then
//! [`RawConfig::validate`] turns it into a typed [`Config`] and reports *every*
//! problem at once, each with `file:line:column` and the key, so an operator
//! fixes a config in one pass.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::item::{is_web, ItemKey};

pub mod name;
mod split;

/// The default config file, relative to the working directory.
pub const DEFAULT_PATH: &str = "feeds.toml";

/// Feeds are never polled more often than this, whatever the config says:
/// publishers rate-limit or ban clients that hammer them.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// Output names that would shadow one of our own endpoints.
const RESERVED_OUTPUT_NAMES: &[&str] = &[
    "healthz", "readyz", "status", "metrics", "feeds", "export", "fleet",
];

/// A validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// The file this was read from; relative paths in it are resolved against
    /// its folder.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub poll: PollConfig,
    pub outputs: Vec<OutputConfig>,
    pub feeds: Vec<FeedConfig>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Public URL of this server, used for self links in the outputs.
    pub base_url: Url,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StorageConfig {
    /// The sled directory, already resolved against the config file's folder.
    pub path: PathBuf,
    /// Items dated older than this are pruned.
    pub retention: Duration,
    /// At most this many items are kept.
    pub max_items: usize,
    /// Pruned items are remembered this long so they never come back as new.
    pub seen_retention: Duration,
    /// Where items live: sled (embedded, default) or PostgreSQL (shared).
    pub backend: Backend,
    /// The PostgreSQL URL: `FEEDWIRE_DATABASE_URL` when set, else `url`.
    pub url: Option<String>,
    /// PostgreSQL connections per node at most.
    pub pool_size: usize,
    /// How long a store call waits for a free connection.
    pub pool_timeout: Duration,
    /// How long opening a database connection may take.
    pub connect_timeout: Duration,
    /// How long one store call may take in all.
    pub query_timeout: Duration,
    /// How long a fleet node's lease on a feed (or a per-host fetch slot)
    /// lasts; a dead node's feeds are polled by another after this.
    pub lease: Duration,
}

/// The store backend (`[storage] backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    #[default]
    Sled,
    Postgres,
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(unparsable database URL)".into(),
    }
}

/// Overrides `[storage] url`, so that secrets stay out of feeds.toml.
pub const DATABASE_URL_ENV: &str = "FEEDWIRE_DATABASE_URL";

#[derive(Clone, Debug, PartialEq)]
pub struct PollConfig {
    pub interval: Duration,
    pub concurrency: usize,
    pub timeout: Duration,
    pub max_body: u64,
    pub user_agent: String,
    /// Bounds on every feed's effective interval, whatever the config or
    /// the publisher (`<ttl>`, `Cache-Control`) says.
    pub min_interval: Duration,
    pub max_interval: Duration,
    /// Fetches to one host at the same time.
    pub per_host: usize,
    /// Entries taken from one document.
    pub max_items: usize,
    /// Feeds never polled before get their first poll spread over this
    /// window, so that a first start is not a burst.
    pub first_poll_spread: Duration,
    /// Next pages read after a gap at most (`poller::pages`); 0: none.
    pub gap_pages: usize,
    /// Whether feeds may reach loopback, private and link-local addresses
    /// (default: no; a feed can redirect anywhere).
    pub allow_private_networks: bool,
    /// `proxy`: an HTTP(S) proxy every fetch goes through (the environment's
    /// `HTTP_PROXY` and friends are not read: an operator's explicit choice
    /// only, since a proxy changes where the address check can be made).
    pub proxy: Option<Url>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct OutputConfig {
    /// In NFC; served as `/{name}.rss`, `.atom` and `.json`, percent-encoded
    /// (see [`name`]).
    pub name: String,
    pub title: String,
    pub description: String,
    pub language: Option<String>,
    pub max_items: usize,
    /// Feeds whose tags intersect these; empty selects every feed.
    pub tags: Vec<String>,
    /// Item rules, applied in this order after `tags` (see `select`).
    pub categories: Vec<String>,
    pub keywords: Vec<String>,
    pub exclude_keywords: Vec<String>,
    pub languages: Vec<String>,
    /// Regular expressions whose matches are removed from published summaries
    /// and content (share-button text, "more news on our site").
    pub strip: Vec<String>,
    /// Path prefix of files written after each change (`{file}.rss`,
    /// `.atom`, `.json`), resolved against the config file's folder.
    pub file: Option<PathBuf>,
    /// WebSub hubs advertised in the documents and pinged after each change.
    pub hubs: Vec<Url>,
    /// Story clustering (`cluster = true`): one entry per story across
    /// outlets. `None` when off.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl OutputConfig {
    /// Whether the output takes `feed`'s items: their tags intersect, or
    /// the output names no tags.
    pub fn selects(&self, feed: &FeedConfig) -> bool {
        self.tags.is_empty() || feed.tags.iter().any(|t| self.tags.contains(t))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct FeedConfig {
    pub url: Url,
    pub name: String,
    pub tags: Vec<String>,
    /// Per-feed override of `[poll] interval`.
    pub interval: Option<Duration>,
    /// `[poll] allow_private_networks`, or this feed's own setting.
    pub allow_private_networks: bool,
    /// The publisher, for story clustering (`outlet = "..."`): feeds of one
    /// outlet never have their items merged into one story. `None` means
    /// the registrable domain of the feed's site (see [`crate::cluster`]).
    pub outlet: Option<String>,
    /// `full_text = true` (or `"auto"`): each new item's page is fetched
    /// and its article extracted (see `extract`); `None` when off.
    pub full_text: Option<FullText>,
    /// `user_agent`: sent instead of `[poll] user_agent` when fetching this
    /// feed and its articles (a publisher that refuses unknown clients).
    pub user_agent: Option<String>,
    /// The user name and password written in the feed's URL, taken out of
    /// `url` (see [`Credentials`]).
    pub credentials: Option<Credentials>,
}

/// A feed URL's user name and password (`https://user:pass@host/feed`),
/// sent as HTTP Basic authentication to the feed's own host only. They are
/// taken out of the URL when the config is read, because feedwire shows
/// feed URLs (logs, the status page) and publishes them (each item's
/// source, the OPML): a password left in would reach every subscriber.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Splits the user name and password (percent-decoded) off a feed URL.
fn take_credentials(mut url: Url) -> (Url, Option<Credentials>) {
    if url.username().is_empty() && url.password().is_none() {
        return (url, None);
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = Credentials {
        username: decode(url.username()),
        password: url.password().map(decode),
    };
    // http(s) URLs always have a host, so neither call can fail.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    (url, Some(credentials))
}

/// A feed's full-text options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullText {
    /// `full_text_selector`: CSS selector of the article block, used
    /// instead of readability's guess.
    pub selector: Option<String>,
    /// `full_text_timeout`: how long a new item waits for its article
    /// before it is published with the feed's own content.
    pub timeout: Duration,
    /// `full_text = "auto"`: only the items whose own text is a teaser
    /// ([`crate::fulltext::is_teaser`]) have their page fetched; the others
    /// are published with the feed's text as soon as they are stored.
    pub auto: bool,
}

/// Default `full_text_timeout`.
pub const FULL_TEXT_TIMEOUT: Duration = Duration::from_secs(30);

impl Config {
    /// Reads and validates a config file. Under systemd, a relative store
    /// path is resolved against `$STATE_DIRECTORY` (the unit's
    /// `StateDirectory=`), since the config folder is read-only there.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let state_dir = std::env::var_os("STATE_DIRECTORY")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        Config::parse_with(path, &text, state_dir.as_deref())
    }

    /// Validates config text; `path` names the file in messages and anchors
    /// relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::parse_with(path, text, None)
    }

    /// As [`Config::parse`], resolving a relative store path against
    /// `state_dir` when given.
    pub fn parse_with(path: &Path, text: &str, state_dir: Option<&Path>) -> Result<Config, ConfigError> {
        match RawConfig::parse_split(text) {
            Some(raw) => raw.validate(path, text, state_dir),
            None => RawConfig::parse_whole(path, text, state_dir),
        }
        .map_err(ConfigError::Invalid)
    }

    /// The configured poll interval of one feed, within
    /// `[poll] min_interval` and `max_interval`.
    pub fn interval_of(&self, feed: &FeedConfig) -> Duration {
        feed.interval.unwrap_or(self.poll.interval).clamp(
            self.poll.min_interval,
            self.poll.max_interval.max(self.poll.min_interval),
        )
    }

    /// The feeds an output selects by tag.
    pub fn feeds_of<'a>(&'a self, output: &'a OutputConfig) -> impl Iterator<Item = &'a FeedConfig> {
        self.feeds.iter().filter(move |f| output.selects(f))
    }

    /// One line saying what a reload from `old` to `self` changes, e.g.
    /// `+2 feeds, -1 feed, 1 changed, output politics changed`.
    pub fn describe_changes(&self, old: &Config) -> String {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        // By URL: nested scans made a reload of 100,000 feeds quadratic.
        let before: std::collections::HashMap<&str, &FeedConfig> =
            old.feeds.iter().map(|f| (f.url.as_str(), f)).collect();
        let after: std::collections::HashSet<&str> = self.feeds.iter().map(|f| f.url.as_str()).collect();
        let added = self
            .feeds
            .iter()
            .filter(|f| !before.contains_key(f.url.as_str()))
            .count();
        let removed = old
            .feeds
            .iter()
            .filter(|o| !after.contains(o.url.as_str()))
            .count();
        let changed = self
            .feeds
            .iter()
            .filter(|f| before.get(f.url.as_str()).is_some_and(|o| *o != *f))
            .count();
        let mut parts = Vec::new();
        if added > 0 {
            parts.push(format!("+{added} feed{}", plural(added)));
        }
        if removed > 0 {
            parts.push(format!("-{removed} feed{}", plural(removed)));
        }
        if changed > 0 {
            parts.push(format!("{changed} changed"));
        }
        for o in &self.outputs {
            match old.outputs.iter().find(|p| p.name == o.name) {
                None => parts.push(format!("output {} added", o.name)),
                Some(p) if p != o => parts.push(format!("output {} changed", o.name)),
                Some(_) => {}
            }
        }
        for p in &old.outputs {
            if !self.outputs.iter().any(|o| o.name == p.name) {
                parts.push(format!("output {} removed", p.name));
            }
        }
        if self.poll != old.poll {
            parts.push("poll settings changed".into());
        }
        if self.server != old.server {
            parts.push("server settings changed".into());
        }
        if parts.is_empty() {
            "no changes".into()
        } else {
            parts.join(", ")
        }
    }

    /// A one-line summary for `feedwire check` and the start-up log.
    pub fn summary(&self) -> String {
        let outputs: Vec<&str> = self.outputs.iter().map(|o| o.name.as_str()).collect();
        let store = match self.storage.backend {
            Backend::Sled => self.storage.path.display().to_string(),
            Backend::Postgres => format!(
                "postgres {}",
                redact_url(self.storage.url.as_deref().unwrap_or_default())
            ),
        };
        format!(
            "{}: {} feeds, {} outputs ({}), store {}, listen {}",
            self.path.display(),
            self.feeds.len(),
            self.outputs.len(),
            outputs.join(", "),
            store,
            self.server.listen
        )
    }
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read config {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The file was read but has one or more problems.
    #[error("{}", ProblemList(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(p) => p,
            ConfigError::Read { .. } => &[],
        }
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// One problem in a config file, located for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line and column.
    pub line: usize,
    pub column: usize,
    /// Dotted key, e.g. `poll.interval` or `feed[3].url`; empty when the
    /// problem is not about one key.
    pub key: String,
    pub message: String,
}

impl Problem {
    fn at(file: &Path, text: &str, span: Range<usize>, message: impl Into<String>) -> Problem {
        let (line, column) = line_col(text, span.start);
        Problem {
            file: file.to_owned(),
            line,
            column,
            key: key_at(text, span.start),
            message: message.into().trim().to_owned(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Names the key at a byte offset as `table.key` or `table[n].key`, read from
/// the source text: toml's errors carry a span but not the key path.
fn key_at(text: &str, offset: usize) -> String {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty() && !k.starts_with('['))
        .unwrap_or_default();

    // The innermost table header above the line, counting array entries.
    let mut table = String::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for header in split::headers(&text[..line_start]) {
        if header.array {
            let n = counts.entry(header.name.clone()).or_insert(0);
            *n += 1;
            table = format!("{}[{}]", header.name, *n - 1);
        } else {
            table = header.name;
        }
    }
    match (table.is_empty(), key.is_empty()) {
        (_, true) => table,
        (true, false) => key,
        (false, false) => format!("{table}.{key}"),
    }
}

// ---------------------------------------------------------------------------
// The raw, as-written shape.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default)]
    output: Vec<Spanned<RawOutput>>,
    #[serde(default)]
    feed: Vec<Spanned<RawFeed>>,
    /// The `[[feed]]` tables not parsed yet (byte ranges of the text), when
    /// the file was split: see [`RawConfig::parse_split`].
    #[serde(skip)]
    feed_tables: Vec<Range<usize>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Spanned<String>>,
    retention: Option<Spanned<String>>,
    max_items: Option<Spanned<i64>>,
    seen_retention: Option<Spanned<String>>,
    backend: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    pool_size: Option<Spanned<i64>>,
    pool_timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    query_timeout: Option<Spanned<String>>,
    lease: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    interval: Option<Spanned<String>>,
    min_interval: Option<Spanned<String>>,
    max_interval: Option<Spanned<String>>,
    first_poll_spread: Option<Spanned<String>>,
    gap_pages: Option<Spanned<i64>>,
    allow_private_networks: Option<bool>,
    per_host: Option<Spanned<i64>>,
    max_items: Option<Spanned<i64>>,
    concurrency: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    max_body: Option<Spanned<String>>,
    user_agent: Option<Spanned<String>>,
    proxy: Option<Spanned<String>>,
    full_text: Option<Spanned<RawFullText>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    name: Spanned<String>,
    title: Option<String>,
    description: Option<String>,
    language: Option<Spanned<String>>,
    max_items: Option<Spanned<i64>>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    categories: Vec<Spanned<String>>,
    #[serde(default)]
    keywords: Vec<Spanned<String>>,
    #[serde(default)]
    exclude_keywords: Vec<Spanned<String>>,
    #[serde(default)]
    languages: Vec<Spanned<String>>,
    #[serde(default)]
    strip: Vec<Spanned<String>>,
    file: Option<Spanned<String>>,
    #[serde(default)]
    hubs: Vec<Spanned<String>>,
    cluster: Option<bool>,
    cluster_window: Option<Spanned<String>>,
    cluster_threshold: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: Spanned<String>,
    name: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
    interval: Option<Spanned<String>>,
    allow_private_networks: Option<bool>,
    outlet: Option<Spanned<String>>,
    full_text: Option<Spanned<RawFullText>>,
    full_text_selector: Option<Spanned<String>>,
    full_text_timeout: Option<Spanned<String>>,
    user_agent: Option<Spanned<String>>,
}

/// `full_text`: `true`, `false` or `"auto"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawFullText {
    On(bool),
    Mode(String),
}

/// One `[[feed]]` table parsed on its own (see [`split`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeedTable {
    feed: Vec<Spanned<RawFeed>>,
}

/// What the rest of a split file may not hold: a root `feed` key of its
/// own, which with `[[feed]]` tables would be an error of the whole file.
#[derive(Deserialize)]
struct RawRootFeed {
    feed: Option<serde::de::IgnoredAny>,
}

impl RawConfig {
    /// Parses and validates the file as one document.
    fn parse_whole(file: &Path, text: &str, state_dir: Option<&Path>) -> Result<Config, Vec<Problem>> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            vec![Problem::at(file, text, span, e.message())]
        })?;
        raw.validate(file, text, state_dir)
    }

    /// Parses a file with `[[feed]]` tables but for those tables, which
    /// [`RawConfig::validate`] reads one at a time (see [`split`]). `None`
    /// when the file has no such table or the rest fails: the caller then
    /// parses the whole file, so that a broken file gets toml's own message
    /// at the same place (as does a table that fails later).
    fn parse_split(text: &str) -> Option<RawConfig> {
        let split = split::split(text)?;
        if toml::from_str::<RawRootFeed>(&split.rest).ok()?.feed.is_some() {
            return None;
        }
        let mut raw: RawConfig = toml::from_str(&split.rest).ok()?;
        raw.feed_tables = split.feeds;
        Some(raw)
    }
}

/// One `[[feed]]` table of `text`, parsed alone, with spans into `text`;
/// `None` if it does not parse as exactly one feed.
fn parse_feed_table(text: &str, range: Range<usize>) -> Option<Spanned<RawFeed>> {
    let mut table: RawFeedTable = toml::from_str(&text[range.clone()]).ok()?;
    let feed = match (table.feed.pop(), table.feed.is_empty()) {
        (Some(feed), true) => feed,
        _ => return None,
    };
    let span = feed.span();
    Some(Spanned::new(
        span.start + range.start..span.end + range.start,
        feed.into_inner().shifted(range.start),
    ))
}

/// A span moved by `by` bytes: from a piece of the file to the whole.
fn shift<T>(value: Spanned<T>, by: usize) -> Spanned<T> {
    let span = value.span();
    Spanned::new(span.start + by..span.end + by, value.into_inner())
}

fn shift_opt<T>(value: Option<Spanned<T>>, by: usize) -> Option<Spanned<T>> {
    value.map(|v| shift(v, by))
}

impl RawFeed {
    /// Every span moved by `by` bytes. Destructured whole, so that a new
    /// key cannot be left pointing into the piece.
    fn shifted(self, by: usize) -> RawFeed {
        let RawFeed {
            url,
            name,
            tags,
            interval,
            allow_private_networks,
            outlet,
            full_text,
            full_text_selector,
            full_text_timeout,
            user_agent,
        } = self;
        RawFeed {
            url: shift(url, by),
            name: shift_opt(name, by),
            tags,
            interval: shift_opt(interval, by),
            allow_private_networks,
            outlet: shift_opt(outlet, by),
            full_text: shift_opt(full_text, by),
            full_text_selector: shift_opt(full_text_selector, by),
            full_text_timeout: shift_opt(full_text_timeout, by),
            user_agent: shift_opt(user_agent, by),
        }
    }
}

/// Collects problems while validating, so that all of them are reported.
struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    /// A `user_agent` (of `[poll]` or of a feed), `VERSION` replaced with
    /// ours; `None` when unset or refused. It goes into a header as it is,
    /// so a line break or other control character is refused here rather
    /// than failing every fetch.
    fn user_agent(&mut self, value: Option<&Spanned<String>>) -> Option<String> {
        let v = value?;
        if v.get_ref().trim().is_empty() {
            self.problem(v, "user_agent must not be empty");
            return None;
        }
        if let Some(ch) = v.get_ref().chars().find(|c| c.is_control()) {
            self.problem(
                v,
                format!(
                    "user_agent must be one line without control characters (found U+{:04X})",
                    ch as u32
                ),
            );
            return None;
        }
        Some(v.get_ref().replace("VERSION", env!("CARGO_PKG_VERSION")))
    }

    fn problem<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        self.problems
            .push(Problem::at(self.file, self.text, at.span(), message));
    }

    /// Reads a whole number within `range`.
    fn count(
        &mut self,
        value: &Option<Spanned<i64>>,
        default: usize,
        range: std::ops::RangeInclusive<i64>,
        name: &str,
    ) -> usize {
        match value {
            None => default,
            Some(v) if range.contains(v.get_ref()) => *v.get_ref() as usize,
            Some(v) => {
                self.problem(
                    v,
                    format!("{name} must be between {} and {}", range.start(), range.end()),
                );
                default
            }
        }
    }

    /// Parses a duration such as "15m"; `floor` is the least allowed value.
    /// A `full_text` value: whether it is on, and whether `"auto"`.
    fn full_text_mode(&mut self, v: &Spanned<RawFullText>) -> (bool, bool) {
        match v.get_ref() {
            RawFullText::On(on) => (*on, false),
            RawFullText::Mode(m) if m == "auto" => (true, true),
            RawFullText::Mode(m) => {
                self.problem(v, format!("full_text must be true, false or \"auto\", not {m:?}"));
                (false, false)
            }
        }
    }

    /// A feed's `full_text`, `full_text_selector` and `full_text_timeout`;
    /// a feed without `full_text` of its own takes `[poll]`'s (`inherited`,
    /// already read by [`Checker::full_text_mode`]).
    fn full_text(&mut self, f: &RawFeed, inherited: (bool, bool)) -> Option<FullText> {
        let (on, auto) = match f.full_text.as_ref() {
            None => inherited,
            Some(v) => self.full_text_mode(v),
        };
        if let Some(sel) = &f.full_text_selector {
            if sel.get_ref().trim().is_empty() || !crate::extract::valid_selector(sel.get_ref()) {
                self.problem(sel, format!("invalid CSS selector {:?}", sel.get_ref()));
            }
        }
        if !on {
            for key in [&f.full_text_selector, &f.full_text_timeout]
                .into_iter()
                .flatten()
            {
                self.problem(
                    key,
                    "has no effect without full_text = true or \"auto\" in this [[feed]] or in [poll]",
                );
            }
            return None;
        }
        let timeout = self.duration(&f.full_text_timeout, FULL_TEXT_TIMEOUT, Duration::from_secs(1));
        if timeout > Duration::from_secs(3600) {
            if let Some(v) = &f.full_text_timeout {
                self.problem(v, "full_text_timeout must be at most 1h");
            }
        }
        Some(FullText {
            selector: f
                .full_text_selector
                .as_ref()
                .map(|s| s.get_ref().trim().to_owned())
                .filter(|s| !s.is_empty()),
            timeout,
            auto,
        })
    }

    fn duration(&mut self, value: &Option<Spanned<String>>, default: Duration, floor: Duration) -> Duration {
        let Some(v) = value else { return default };
        match humantime::parse_duration(v.get_ref()) {
            Ok(d) if d >= floor => d,
            Ok(_) => {
                self.problem(
                    v,
                    format!(
                        "{:?} is shorter than the {} floor",
                        v.get_ref(),
                        humantime::format_duration(floor)
                    ),
                );
                default
            }
            Err(e) => {
                self.problem(
                    v,
                    format!("invalid duration {:?} ({e}); write e.g. \"15m\"", v.get_ref()),
                );
                default
            }
        }
    }
}

impl RawConfig {
    fn validate(mut self, file: &Path, text: &str, state_dir: Option<&Path>) -> Result<Config, Vec<Problem>> {
        let mut c = Checker {
            file,
            text,
            problems: Vec::new(),
        };

        let listen = match &self.server.listen {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.get_ref().parse().unwrap_or_else(|e| {
                c.problem(
                    v,
                    format!(
                        "invalid address {:?} ({e}); write e.g. \"127.0.0.1:8080\"",
                        v.get_ref()
                    ),
                );
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }),
        };
        let default_base = Url::parse(&format!("http://{listen}/")).expect("socket address is a valid host");
        let base_url = match &self.server.base_url {
            None => default_base,
            Some(v) => match Url::parse(v.get_ref()) {
                Ok(u) if is_web(&u) => u,
                Ok(_) => {
                    c.problem(v, "base_url must be an http or https URL");
                    default_base
                }
                Err(e) => {
                    c.problem(v, format!("invalid URL {:?} ({e})", v.get_ref()));
                    default_base
                }
            },
        };

        // `StateDirectory=` is systemd's (see `systemd/feedwire.service`); on
        // the command line, paths follow the config file.
        let dir = state_dir.unwrap_or(file.parent().unwrap_or(Path::new(".")));
        let storage_path = match &self.storage.path {
            None => dir.join("data"),
            Some(v) if v.get_ref().trim().is_empty() => {
                c.problem(v, "storage path must not be empty");
                dir.join("data")
            }
            Some(v) => dir.join(v.get_ref()),
        };

        let interval = c.duration(&self.poll.interval, Duration::from_secs(15 * 60), MIN_INTERVAL);
        let timeout = c.duration(
            &self.poll.timeout,
            Duration::from_secs(30),
            Duration::from_secs(1),
        );
        const DAY: u64 = 86_400;
        let retention = c.duration(
            &self.storage.retention,
            Duration::from_secs(30 * DAY),
            Duration::from_secs(3600),
        );
        let seen_retention = c.duration(
            &self.storage.seen_retention,
            Duration::from_secs(365 * DAY),
            Duration::from_secs(3600),
        );
        if seen_retention < retention {
            if let Some(v) = &self.storage.seen_retention {
                c.problem(v, "seen_retention must be at least retention");
            }
        }
        let store_max_items = c.count(&self.storage.max_items, 100_000, 100..=100_000_000, "max_items");
        let backend = match &self.storage.backend {
            None => Backend::Sled,
            Some(v) => match v.get_ref().as_str() {
                "sled" => Backend::Sled,
                "postgres" => Backend::Postgres,
                other => {
                    c.problem(
                        v,
                        format!("unknown backend {other:?}; use \"sled\" or \"postgres\""),
                    );
                    Backend::Sled
                }
            },
        };
        let env_url = std::env::var(DATABASE_URL_ENV)
            .ok()
            .filter(|u| !u.trim().is_empty());
        if let Some(v) = &self.storage.url {
            let u = v.get_ref();
            if !(u.starts_with("postgres://") || u.starts_with("postgresql://")) {
                c.problem(v, "url must start with postgres:// or postgresql://");
            }
            if backend != Backend::Postgres {
                c.problem(v, "url is only used with backend = \"postgres\"");
            }
        }
        let storage_url = env_url.or_else(|| self.storage.url.as_ref().map(|v| v.get_ref().clone()));
        if backend == Backend::Postgres && storage_url.is_none() {
            if let Some(v) = &self.storage.backend {
                c.problem(
                    v,
                    format!("backend = \"postgres\" needs url = \"postgres://...\" or {DATABASE_URL_ENV}"),
                );
            }
        }
        let pool_size = c.count(&self.storage.pool_size, 8, 1..=1000, "pool_size");
        let pool_timeout = c.duration(
            &self.storage.pool_timeout,
            Duration::from_secs(5),
            Duration::from_millis(100),
        );
        let connect_timeout = c.duration(
            &self.storage.connect_timeout,
            Duration::from_secs(5),
            Duration::from_millis(100),
        );
        let query_timeout = c.duration(
            &self.storage.query_timeout,
            Duration::from_secs(30),
            Duration::from_secs(1),
        );
        // A lease must outlast a poll (fetch timeout, then parse and store),
        // or a slow node's feed would be polled twice.
        let lease = c.duration(
            &self.storage.lease,
            timeout * 2 + Duration::from_secs(30),
            Duration::from_secs(1),
        );
        if lease <= timeout {
            if let Some(v) = &self.storage.lease {
                c.problem(v, "lease must be longer than [poll] timeout");
            }
        }
        let min_interval = c.duration(&self.poll.min_interval, MIN_INTERVAL, MIN_INTERVAL);
        let max_interval = c.duration(
            &self.poll.max_interval,
            Duration::from_secs(24 * 3600),
            MIN_INTERVAL,
        );
        if max_interval < min_interval {
            if let Some(v) = &self.poll.max_interval {
                c.problem(v, "max_interval is shorter than min_interval");
            }
        }
        let first_poll_spread = c.duration(
            &self.poll.first_poll_spread,
            Duration::from_secs(60),
            Duration::ZERO,
        );
        let concurrency = c.count(&self.poll.concurrency, 16, 1..=4096, "concurrency");
        let per_host = c.count(&self.poll.per_host, 2, 1..=256, "per_host");
        let max_items = c.count(&self.poll.max_items, 1000, 1..=1_000_000, "max_items");
        let gap_pages = c.count(
            &self.poll.gap_pages,
            crate::poller::pages::DEFAULT_GAP_PAGES,
            0..=100,
            "gap_pages",
        );
        let max_body = match &self.poll.max_body {
            None => 10 * 1024 * 1024,
            Some(v) => match v.get_ref().parse::<bytesize::ByteSize>() {
                Ok(b) if b.as_u64() > 0 => b.as_u64(),
                Ok(_) => {
                    c.problem(v, "max_body must be above zero");
                    10 * 1024 * 1024
                }
                Err(e) => {
                    c.problem(
                        v,
                        format!("invalid size {:?} ({e}); write e.g. \"10MiB\"", v.get_ref()),
                    );
                    10 * 1024 * 1024
                }
            },
        };
        let user_agent = c
            .user_agent(self.poll.user_agent.as_ref())
            .unwrap_or_else(default_user_agent);
        // Every feed's default `full_text` (each feed may set its own).
        let poll_full_text = match self.poll.full_text.as_ref() {
            Some(v) => c.full_text_mode(v),
            None => (false, false),
        };
        let proxy = self
            .poll
            .proxy
            .as_ref()
            .and_then(|v| match Url::parse(v.get_ref().trim()) {
                Ok(u) if is_web(&u) && u.host_str().is_some() => Some(u),
                Ok(u) => {
                    c.problem(
                        v,
                        format!("proxy must be an http:// or https:// URL, not {:?}", u.scheme()),
                    );
                    None
                }
                Err(e) => {
                    c.problem(v, format!("invalid proxy URL ({e})"));
                    None
                }
            });

        // Sized up front and the raw tables consumed as they are read: with
        // 100,000 feeds, growing by doubling held both the raw and the
        // typed feeds twice over at the peak of a restart.
        // A split file's tables are parsed here, one at a time, so that
        // no more than one raw table is held at once.
        let count = self.feed.len() + self.feed_tables.len();
        let raw_feeds = std::mem::take(&mut self.feed).into_iter().map(Some).chain(
            std::mem::take(&mut self.feed_tables)
                .into_iter()
                .map(|range| parse_feed_table(text, range)),
        );
        let mut feeds = Vec::with_capacity(count);
        let mut urls: HashSet<ItemKey> = HashSet::with_capacity(count);
        let mut names: HashSet<String> = HashSet::new();
        for raw in raw_feeds {
            let Some(raw) = raw else {
                // A table that does not parse alone: the whole file gets
                // toml's message for it.
                return RawConfig::parse_whole(file, text, state_dir);
            };
            let f = raw.get_ref();
            let (url, credentials) = match Url::parse(f.url.get_ref().trim()) {
                Ok(u) if is_web(&u) => take_credentials(u),
                Ok(u) => {
                    c.problem(
                        &f.url,
                        format!("feed URL must be http or https, not {:?}", u.scheme()),
                    );
                    continue;
                }
                Err(e) => {
                    c.problem(&f.url, format!("invalid URL {:?} ({e})", f.url.get_ref()));
                    continue;
                }
            };
            if !urls.insert(ItemKey::from_link(&url)) {
                c.problem(&f.url, format!("duplicate feed URL {url}"));
            }
            let name = match &f.name {
                Some(n) if n.get_ref().trim().is_empty() => {
                    c.problem(n, "feed name must not be empty");
                    url.to_string()
                }
                Some(n) => {
                    if !names.insert(n.get_ref().clone()) {
                        c.problem(n, format!("duplicate feed name {:?}", n.get_ref()));
                    }
                    n.get_ref().clone()
                }
                None => url.host_str().unwrap_or(url.as_str()).to_owned(),
            };
            let interval = f
                .interval
                .as_ref()
                .map(|_| c.duration(&f.interval, interval, MIN_INTERVAL));
            // Outlet names compare case-insensitively.
            let outlet = match &f.outlet {
                Some(o) if o.get_ref().trim().is_empty() => {
                    c.problem(o, "outlet must not be empty");
                    None
                }
                Some(o) => Some(o.get_ref().trim().to_lowercase()),
                None => None,
            };
            let full_text = c.full_text(f, poll_full_text);
            let user_agent = c.user_agent(f.user_agent.as_ref());
            feeds.push(FeedConfig {
                url,
                name,
                tags: f.tags.clone(),
                interval,
                allow_private_networks: f
                    .allow_private_networks
                    .unwrap_or(self.poll.allow_private_networks.unwrap_or(false)),
                outlet,
                full_text,
                user_agent,
                credentials,
            });
        }
        if count == 0 {
            c.problems.push(Problem {
                file: file.to_owned(),
                line: 1,
                column: 1,
                key: "feed".into(),
                message: "no [[feed]] configured; add at least one".into(),
            });
        }

        let mut outputs = Vec::new();
        let mut output_names = HashMap::new();
        for raw in &self.output {
            let o = raw.get_ref();
            // Names are compared, served and written in NFC: two spellings
            // of one name are one output (see `name`).
            let name = match name::check(o.name.get_ref()) {
                Ok(name) => {
                    if RESERVED_OUTPUT_NAMES.contains(&name.as_str()) {
                        c.problem(
                            &o.name,
                            format!("output name {name:?} is reserved for an endpoint"),
                        );
                    } else if let Some(first) = output_names.insert(name.clone(), o.name.get_ref()) {
                        let spelled = match first == o.name.get_ref() {
                            true => "",
                            false => " (spelled with other code points, which NFC makes one name)",
                        };
                        c.problem(&o.name, format!("duplicate output name {name:?}{spelled}"));
                    }
                    name
                }
                Err(why) => {
                    c.problem(&o.name, why);
                    o.name.get_ref().clone()
                }
            };
            let max_items = match &o.max_items {
                None => 200,
                Some(v) if (1..=10_000).contains(v.get_ref()) => *v.get_ref() as usize,
                Some(v) => {
                    c.problem(v, "max_items must be between 1 and 10000");
                    200
                }
            };
            if let Some(lang) = &o.language {
                if !is_language_tag(lang.get_ref()) {
                    c.problem(
                        lang,
                        "language must be a language tag such as \"ar\" or \"en-GB\"",
                    );
                }
            }
            // A rule entry with no words would silently match nothing.
            for v in o.categories.iter().chain(&o.keywords).chain(&o.exclude_keywords) {
                if crate::select::words(v.get_ref()).is_empty() {
                    c.problem(v, format!("{:?} has no words to match", v.get_ref()));
                }
            }
            for v in &o.languages {
                if !is_language_tag(v.get_ref()) {
                    c.problem(v, "language must be a language tag such as \"ar\" or \"en-GB\"");
                }
            }
            for v in &o.strip {
                if let Err(e) = regex::Regex::new(v.get_ref()) {
                    c.problem(v, format!("invalid regular expression: {e}"));
                }
            }
            let mut hubs = Vec::new();
            for v in &o.hubs {
                match Url::parse(v.get_ref()) {
                    Ok(u) if is_web(&u) => hubs.push(u),
                    _ => c.problem(v, "hub must be an http or https URL"),
                }
            }
            let cluster = {
                let window = c.duration(
                    &o.cluster_window,
                    crate::cluster::DEFAULT_WINDOW,
                    Duration::from_secs(3600),
                );
                let threshold = o
                    .cluster_threshold
                    .as_ref()
                    .map_or(crate::cluster::DEFAULT_THRESHOLD, |t| *t.get_ref());
                let cfg = crate::cluster::ClusterConfig { window, threshold };
                if let (Err(e), Some(t)) = (cfg.validate(), &o.cluster_threshold) {
                    c.problem(t, e);
                }
                o.cluster.unwrap_or(false).then_some(cfg)
            };
            let plain = |v: &[Spanned<String>]| v.iter().map(|s| s.get_ref().clone()).collect::<Vec<_>>();
            let output = OutputConfig {
                name: name.clone(),
                title: o.title.clone().unwrap_or_else(|| name.clone()),
                description: o.description.clone().unwrap_or_default(),
                language: o.language.as_ref().map(|l| l.get_ref().clone()),
                max_items,
                tags: o.tags.clone(),
                categories: plain(&o.categories),
                keywords: plain(&o.keywords),
                exclude_keywords: plain(&o.exclude_keywords),
                languages: plain(&o.languages),
                strip: plain(&o.strip),
                file: match &o.file {
                    Some(f) if f.get_ref().trim().is_empty() => {
                        c.problem(f, "file must not be empty");
                        None
                    }
                    Some(f) => Some(file.parent().unwrap_or(Path::new(".")).join(f.get_ref())),
                    None => None,
                },
                hubs,
                cluster,
            };
            let selects_any = output.tags.is_empty()
                || feeds
                    .iter()
                    .any(|f: &FeedConfig| f.tags.iter().any(|t| output.tags.contains(t)));
            if !selects_any && !feeds.is_empty() {
                c.problem(
                    &o.name,
                    format!(
                        "output {name:?} selects no feed: no feed has any of the tags {:?}",
                        output.tags
                    ),
                );
            }
            outputs.push(output);
        }
        if self.output.is_empty() {
            c.problems.push(Problem {
                file: file.to_owned(),
                line: 1,
                column: 1,
                key: "output".into(),
                message: "no [[output]] configured; add at least one".into(),
            });
        }

        if !c.problems.is_empty() {
            return Err(c.problems);
        }
        Ok(Config {
            path: file.to_owned(),
            server: ServerConfig { listen, base_url },
            storage: StorageConfig {
                path: storage_path,
                retention,
                max_items: store_max_items,
                seen_retention,
                backend,
                url: storage_url,
                pool_size,
                pool_timeout,
                connect_timeout,
                query_timeout,
                lease,
            },
            poll: PollConfig {
                interval,
                concurrency,
                timeout,
                max_body,
                user_agent,
                min_interval,
                max_interval,
                per_host,
                max_items,
                first_poll_spread,
                gap_pages,
                allow_private_networks: self.poll.allow_private_networks.unwrap_or(false),
                proxy,
            },
            outputs,
            feeds,
        })
    }
}

fn is_language_tag(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
}

fn default_user_agent() -> String {
    format!(
        "feedwire/{} (+https://github.com/feedwire/feedwire)",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:9999"

[poll]
interval = "10m"
max_body = "2MiB"

[[output]]
name = "politics"
title = "سياسة"
tags = ["politics"]

[[feed]]
url = "https://www.bbc.com/arabic/index.xml"
name = "بي بي سي عربي"
tags = ["politics"]
interval = "20m"
"#;

    #[test]
    fn storage_backend_keys_are_checked_and_located() {
        let with = |storage: &str| GOOD.replace("[poll]", &format!("[storage]\n{storage}\n\n[poll]"));
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), GOOD).unwrap();
        assert_eq!(c.storage.backend, Backend::Sled);
        assert_eq!(
            (c.storage.pool_size, c.storage.lease),
            (8, Duration::from_secs(90))
        );
        if std::env::var_os(DATABASE_URL_ENV).is_none() {
            let c = Config::parse(
                Path::new("/etc/feedwire/feeds.toml"),
                &with(
                    "backend = \"postgres\"\nurl = \"postgres://fw@db/أخبار\"\npool_size = 3\nlease = \"2m\"",
                ),
            )
            .unwrap();
            assert_eq!(c.storage.backend, Backend::Postgres);
            assert_eq!(c.storage.url.as_deref(), Some("postgres://fw@db/أخبار"));
            assert_eq!(
                (c.storage.pool_size, c.storage.lease),
                (3, Duration::from_secs(120))
            );
            let p = problems(&with("backend = \"postgres\""));
            assert!(
                p[0].contains("feeds.toml:6:11: storage.backend") && p[0].contains(DATABASE_URL_ENV),
                "{p:?}"
            );
        }
        let p = problems(&with("backend = \"mysql\""));
        assert!(p[0].contains("unknown backend \"mysql\""), "{p:?}");
        let p = problems(&with("backend = \"sled\"\nurl = \"mysql://x\""));
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].contains("storage.url") && p[0].contains("postgres://"),
            "{p:?}"
        );
        let p = problems(&with("lease = \"5s\""));
        assert!(p[0].contains("lease must be longer than [poll] timeout"), "{p:?}");
    }

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(Path::new("/etc/feedwire/feeds.toml"), text) {
            Ok(_) => vec![],
            Err(e) => e.problems().iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn change_summary() {
        let path = Path::new("/etc/feedwire/feeds.toml");
        let old = Config::parse(path, GOOD).unwrap();
        let new_text = GOOD.replace("interval = \"20m\"", "interval = \"30m\"").replace("title = \"سياسة\"", "title = \"أخبار\"")
            + "\n[[feed]]\nurl = \"https://a.example/rss\"\ntags = [\"politics\"]\n\n[[feed]]\nurl = \"https://b.example/rss\"\n";
        let new = Config::parse(path, &new_text).unwrap();
        assert_eq!(
            new.describe_changes(&old),
            "+2 feeds, 1 changed, output politics changed"
        );
        assert_eq!(
            old.describe_changes(&new),
            "-2 feeds, 1 changed, output politics changed"
        );
        assert_eq!(old.describe_changes(&old), "no changes");
    }

    #[test]
    fn full_text_keys() {
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), GOOD).unwrap();
        assert_eq!(c.feeds[0].full_text, None);
        let on = GOOD.replace("interval = \"20m\"", "full_text = true");
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), &on).unwrap();
        assert_eq!(
            c.feeds[0].full_text,
            Some(FullText {
                selector: None,
                timeout: FULL_TEXT_TIMEOUT,
                auto: false,
            })
        );
        let auto = GOOD.replace(
            "interval = \"20m\"",
            "full_text = \"auto\"\nfull_text_selector = \"article\"",
        );
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), &auto).unwrap();
        let ft = c.feeds[0].full_text.clone().unwrap();
        assert!(ft.auto);
        assert_eq!(ft.selector.as_deref(), Some("article"));
        let off = GOOD.replace("interval = \"20m\"", "full_text = false");
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), &off).unwrap();
        assert_eq!(c.feeds[0].full_text, None);
        let tuned = GOOD.replace(
            "interval = \"20m\"",
            "full_text = true\nfull_text_selector = \"article .story-body\"\nfull_text_timeout = \"5s\"",
        );
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), &tuned).unwrap();
        let ft = c.feeds[0].full_text.clone().unwrap();
        assert_eq!(ft.selector.as_deref(), Some("article .story-body"));
        assert_eq!(ft.timeout, Duration::from_secs(5));
    }

    /// `[poll] full_text` is every feed's default; a feed's own value,
    /// `false` included, wins, and its selector and timeout apply to the
    /// inherited mode.
    #[test]
    fn poll_full_text_is_every_feeds_default() {
        let second = "\n[[feed]]\nurl = \"https://www.aljazeera.net/rss\"\nname = \"الجزيرة\"\n";
        let with = |poll: &str, feed: &str| {
            let mut text = GOOD.replace("max_body = \"2MiB\"", &format!("max_body = \"2MiB\"\n{poll}"));
            text = text.replace("interval = \"20m\"", feed);
            text.push_str(second);
            text
        };
        let auto = Config::parse(
            Path::new("/etc/feedwire/feeds.toml"),
            &with("full_text = \"auto\"", "full_text_timeout = \"5s\""),
        )
        .unwrap();
        let ft: Vec<_> = auto.feeds.iter().map(|f| f.full_text.clone()).collect();
        assert_eq!(
            ft,
            [
                Some(FullText {
                    selector: None,
                    timeout: Duration::from_secs(5),
                    auto: true,
                }),
                Some(FullText {
                    selector: None,
                    timeout: FULL_TEXT_TIMEOUT,
                    auto: true,
                }),
            ]
        );
        let own = Config::parse(
            Path::new("/etc/feedwire/feeds.toml"),
            &with("full_text = true", "full_text = false"),
        )
        .unwrap();
        assert_eq!(own.feeds[0].full_text, None, "the feed's own false wins");
        assert!(own.feeds[1].full_text.as_ref().is_some_and(|f| !f.auto));
        let off = Config::parse(
            Path::new("/etc/feedwire/feeds.toml"),
            &with("full_text = false", ""),
        )
        .unwrap();
        assert!(off.feeds.iter().all(|f| f.full_text.is_none()));
        // A bad value is named once, at its line in [poll].
        let p = problems(&with("full_text = \"always\"", ""));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("/etc/feedwire/feeds.toml:8:"), "{}", p[0]);
        assert!(
            p[0].contains("full_text must be true, false or \"auto\""),
            "{}",
            p[0]
        );
    }

    #[test]
    fn a_proxy_is_an_http_url_and_a_feed_url_login_is_taken_out() {
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), GOOD).unwrap();
        assert_eq!(c.poll.proxy, None);
        let with = |proxy: &str| {
            GOOD.replace(
                "max_body = \"2MiB\"",
                &format!("max_body = \"2MiB\"\nproxy = {proxy:?}"),
            )
        };
        let c = Config::parse(
            Path::new("/etc/feedwire/feeds.toml"),
            &with("http://squid.internal:3128"),
        )
        .unwrap();
        assert_eq!(c.poll.proxy.unwrap().as_str(), "http://squid.internal:3128/");
        for (bad, says) in [
            (
                "socks5://127.0.0.1:1080",
                "proxy must be an http:// or https:// URL, not \"socks5\"",
            ),
            (
                "squid:3128",
                "proxy must be an http:// or https:// URL, not \"squid\"",
            ),
            ("http://", "invalid proxy URL"),
        ] {
            let p = problems(&with(bad));
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
            assert!(
                p[0].starts_with("/etc/feedwire/feeds.toml:8:9: poll.proxy: "),
                "{}",
                p[0]
            );
            assert!(p[0].contains(says), "{bad}: {}", p[0]);
        }

        let login = GOOD.replace(
            "https://www.bbc.com/",
            "https://%D8%B9%D9%84%D9%8A:p%40ss@www.bbc.com/",
        );
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), &login).unwrap();
        assert_eq!(c.feeds[0].url.as_str(), "https://www.bbc.com/arabic/index.xml");
        let creds = c.feeds[0].credentials.clone().unwrap();
        assert_eq!(
            (creds.username.as_str(), creds.password.as_deref()),
            ("علي", Some("p@ss"))
        );
        let user_only = GOOD.replace("https://www.bbc.com/", "https://reader@www.bbc.com/");
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), &user_only).unwrap();
        let creds = c.feeds[0].credentials.clone().unwrap();
        assert_eq!((creds.username.as_str(), creds.password), ("reader", None));
        // Two feeds that differ only by a login are one feed.
        let twice = format!("{login}\n[[feed]]\nurl = \"https://www.bbc.com/arabic/index.xml\"\nname = \"again\"\ntags = [\"politics\"]\n");
        let p = problems(&twice);
        assert!(
            p.len() == 1 && p[0].contains("duplicate feed URL https://www.bbc.com/arabic/index.xml"),
            "{p:?}"
        );
    }

    #[test]
    fn a_feed_user_agent_overrides_polls_and_is_one_line() {
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), GOOD).unwrap();
        assert!(c.feeds.iter().all(|f| f.user_agent.is_none()));
        let own = GOOD.replace(
            "interval = \"20m\"",
            "user_agent = \"Mozilla/5.0 feedwire/VERSION\"",
        );
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), &own).unwrap();
        let expected = format!("Mozilla/5.0 feedwire/{}", env!("CARGO_PKG_VERSION"));
        assert_eq!(c.feeds[0].user_agent.as_deref(), Some(expected.as_str()));
        let bad = GOOD.replace(
            "interval = \"20m\"",
            "user_agent = \"Mozilla/5.0\\r\\nX-Evil: 1\"",
        );
        let p = problems(&bad);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("/etc/feedwire/feeds.toml:18:14: feed[0].user_agent: "),
            "{}",
            p[0]
        );
        assert!(
            p[0].contains("user_agent") && p[0].contains("control characters (found U+000D)"),
            "{}",
            p[0]
        );
        let empty = GOOD.replace("interval = \"20m\"", "user_agent = \" \"");
        let p = problems(&empty);
        assert!(
            p.len() == 1 && p[0].contains("user_agent must not be empty"),
            "{p:?}"
        );
    }

    #[test]
    fn full_text_problems_name_line_and_key() {
        let bad = GOOD.replace(
            "interval = \"20m\"",
            "full_text = true\nfull_text_selector = \"div[[[\"\nfull_text_timeout = \"soon\"",
        );
        let p = problems(&bad);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("/etc/feedwire/feeds.toml:19:"), "{}", p[0]);
        assert!(
            p[0].contains("full_text_selector") && p[0].contains("invalid CSS selector"),
            "{}",
            p[0]
        );
        assert!(p[1].starts_with("/etc/feedwire/feeds.toml:20:"), "{}", p[1]);
        assert!(
            p[1].contains("full_text_timeout") && p[1].contains("invalid duration"),
            "{}",
            p[1]
        );
        let off = GOOD.replace("interval = \"20m\"", "full_text_selector = \"article\"");
        let p = problems(&off);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].contains("has no effect without full_text = true"),
            "{}",
            p[0]
        );
        let odd = GOOD.replace("interval = \"20m\"", "full_text = \"sometimes\"");
        let p = problems(&odd);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("/etc/feedwire/feeds.toml:18:"), "{}", p[0]);
        assert!(
            p[0].contains("full_text") && p[0].contains(r#"true, false or "auto", not "sometimes""#),
            "{}",
            p[0]
        );
        let number = GOOD.replace("interval = \"20m\"", "full_text = 1");
        let p = problems(&number);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("/etc/feedwire/feeds.toml:18:"), "{}", p[0]);
    }

    #[test]
    fn good_config() {
        let c = Config::parse(Path::new("/etc/feedwire/feeds.toml"), GOOD).unwrap();
        assert_eq!(c.server.listen.port(), 9999);
        assert_eq!(c.server.base_url.as_str(), "http://127.0.0.1:9999/");
        assert_eq!(c.storage.path, Path::new("/etc/feedwire/data"));
        assert_eq!(c.poll.interval, Duration::from_secs(600));
        assert_eq!(c.poll.max_body, 2 * 1024 * 1024);
        assert_eq!(c.feeds[0].name, "بي بي سي عربي");
        assert_eq!(c.interval_of(&c.feeds[0]), Duration::from_secs(1200));
        assert_eq!(c.outputs[0].title, "سياسة");
    }

    #[test]
    fn arabic_output_names_are_read_in_nfc_and_checked_with_file_line_and_key() {
        let with = |outputs: &str| format!("{GOOD}\n{outputs}");
        let output = |name: &str| format!("[[output]]\nname = \"{name}\"\ntags = [\"politics\"]\n\n");
        // Written in NFD (alef + hamza above), read as U+0623.
        let c = Config::parse(
            Path::new("/etc/feedwire/feeds.toml"),
            &with(&(output("سياسة") + &output("\u{0627}\u{0654}خبار-مصر"))),
        )
        .unwrap();
        let names: Vec<&str> = c.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["politics", "سياسة", "أخبار-مصر"]);
        assert_eq!(
            c.outputs[2].title, "أخبار-مصر",
            "the title defaults to the name, as text"
        );

        // Located at the name's value: file, line, column, key.
        let p = problems(&with(&output("أخبار\u{200F}مصر")));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].starts_with("/etc/feedwire/feeds.toml:21:8: output[1].name: ")
                && p[0].contains("U+200F is an invisible bidi control"),
            "{}",
            p[0]
        );
        let p = problems(&with(&output("أخبار مصر")));
        assert!(
            p.len() == 1 && p[0].contains(":21:8: output[1].name: ") && p[0].contains("whitespace (U+0020)"),
            "{p:#?}"
        );
        for bad in ["a/b", "politics.v2", "a%2Fb", ""] {
            let p = problems(&with(&output(bad)));
            assert!(
                p.len() == 1 && p[0].contains(":21:8: output[1].name: "),
                "{bad:?}: {p:#?}"
            );
        }

        // Two spellings of one name are one output: a duplicate.
        let p = problems(&with(
            &(output("أخبار-مصر") + &output("\u{0627}\u{0654}خبار-مصر")),
        ));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].contains(
                ":25:8: output[2].name: duplicate output name \"أخبار-مصر\" (spelled with other code points"
            ),
            "{}",
            p[0]
        );
        let p = problems(&with(&output("politics")));
        assert!(
            p.len() == 1 && p[0].ends_with("duplicate output name \"politics\""),
            "{p:#?}"
        );
        // Reserved names stay reserved.
        let p = problems(&with(&output("status")));
        assert!(
            p.len() == 1 && p[0].contains("is reserved for an endpoint"),
            "{p:#?}"
        );
    }

    #[test]
    fn state_directory_anchors_relative_store_path() {
        let c = Config::parse_with(
            Path::new("/etc/feedwire/feeds.toml"),
            GOOD,
            Some(Path::new("/var/lib/feedwire")),
        )
        .unwrap();
        assert_eq!(c.storage.path, Path::new("/var/lib/feedwire/data"));
        let abs = GOOD.replace("[poll]", "[storage]\npath = \"/srv/fw\"\n\n[poll]");
        let c = Config::parse_with(
            Path::new("/etc/feedwire/feeds.toml"),
            &abs,
            Some(Path::new("/var/lib/feedwire")),
        )
        .unwrap();
        assert_eq!(c.storage.path, Path::new("/srv/fw"));
    }

    #[test]
    fn unknown_key_has_line_column_and_key() {
        let text = GOOD.replace("max_body = \"2MiB\"", "max_bodyy = \"2MiB\"");
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("/etc/feedwire/feeds.toml:7:1: poll.max_bodyy: unknown field `max_bodyy`"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn every_problem_is_reported() {
        let text = GOOD
            .replace("\"10m\"", "\"ten minutes\"")
            .replace("https://www.bbc.com/arabic/index.xml", "ftp://example.com/x")
            .replace("listen = \"127.0.0.1:9999\"", "listen = \"nowhere\"");
        let p = problems(&text);
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(p[0].contains(":3:10: server.listen: invalid address"), "{}", p[0]);
        assert!(
            p[1].contains(":6:12: poll.interval: invalid duration"),
            "{}",
            p[1]
        );
        assert!(
            p[2].contains(":15:7: feed[0].url: feed URL must be http or https"),
            "{}",
            p[2]
        );
    }

    #[test]
    fn outlet_key() {
        let path = Path::new("/etc/feedwire/feeds.toml");
        let c = Config::parse(path, GOOD).unwrap();
        assert_eq!(c.feeds[0].outlet, None);
        let text = GOOD.replace(
            "interval = \"20m\"",
            "interval = \"20m\"\noutlet = \" BBC عربي \"",
        );
        let c = Config::parse(path, &text).unwrap();
        assert_eq!(c.feeds[0].outlet.as_deref(), Some("bbc عربي"));
        let p = problems(&GOOD.replace("interval = \"20m\"", "interval = \"20m\"\noutlet = \"  \""));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].contains(":19:10: feed[0].outlet: outlet must not be empty"),
            "{}",
            p[0]
        );
        let p = problems(&GOOD.replace("interval = \"20m\"", "interval = \"20m\"\noutlet = 3"));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(p[0].contains("feed[0].outlet"), "{}", p[0]);
    }

    #[test]
    fn duplicates_and_floor() {
        let text = format!(
            "{GOOD}\n[[feed]]\nurl = \"http://www.bbc.com/arabic/index.xml?utm_source=x\"\nname = \"بي بي سي عربي\"\ninterval = \"5s\"\n"
        );
        let p = problems(&text);
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(p[0].contains("feed[1].url: duplicate feed URL"), "{}", p[0]);
        assert!(p[1].contains("feed[1].name: duplicate feed name"), "{}", p[1]);
        assert!(
            p[2].contains("feed[1].interval: \"5s\" is shorter than the 1m floor"),
            "{}",
            p[2]
        );
    }

    #[test]
    fn keys_are_named_past_headers_inside_multi_line_strings() {
        // A `[[feed]]` line inside a string is text, not a table: the feed
        // after it is still feed[1].
        let text = format!(
            "{GOOD}\n[[feed]]\nurl = \"https://a.example/rss\"\nname = \"\"\"أخبار\n[[feed]]\n\"\"\"\n\n\
             [[feed]]\nurl = \"https://b.example/rss\"\ninterval = \"5s\"\n"
        );
        let p = problems(&text);
        assert!(
            p.iter()
                .any(|p| p.contains("feed[2].interval: \"5s\" is shorter than the 1m floor")),
            "{p:#?}"
        );
        assert!(!p.iter().any(|p| p.contains("feed[3]")), "{p:#?}");
    }

    #[test]
    fn output_must_select_a_feed() {
        let text = GOOD.replace(
            "tags = [\"politics\"]\n\n[[feed]]",
            "tags = [\"sport\"]\n\n[[feed]]",
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].contains("output.name") || p[0].contains("output[0].name"),
            "{}",
            p[0]
        );
        assert!(p[0].contains("selects no feed"), "{}", p[0]);
    }

    /// The whole-document parse that [`RawConfig::parse_split`] stands in for.
    fn parse_whole(text: &str) -> Result<Config, Vec<Problem>> {
        RawConfig::parse_whole(Path::new("/etc/feedwire/feeds.toml"), text, None)
    }

    fn parse_either(text: &str) -> Result<Config, Vec<Problem>> {
        Config::parse(Path::new("/etc/feedwire/feeds.toml"), text).map_err(|e| e.problems().to_vec())
    }

    /// Feeds between and after other tables, with comments, sub-keys of
    /// every kind and Arabic names: the split parse gives the same config
    /// as the whole document, and every problem at the same line, column
    /// and key (each feed key is wrong in one of the feeds).
    #[test]
    fn feed_tables_parsed_one_at_a_time_match_the_whole_file() {
        let good = format!(
            "{GOOD}\n# the second wire\n[[feed]] # الجزيرة\nurl = \"https://www.aljazeera.net/rss\"\n\
             name = \"الجزيرة\"\ntags = [\n  \"politics\",\n  \"ar\",\n]\noutlet = \"Al Jazeera\"\n\
             full_text = true\nfull_text_selector = \"article .body\"\nfull_text_timeout = \"20s\"\n\
             allow_private_networks = true\n\n[[output]]\nname = \"wire\"\ndescription = \"\"\"\n[[output]]\n\"\"\"\n\n\
             [[feed]]\nurl = \"https://ج.example/rss\"\ninterval = \"1h\"\n"
        );
        assert!(RawConfig::parse_split(&good).is_some());
        let split = parse_either(&good).unwrap();
        assert_eq!(split, parse_whole(&good).unwrap());
        assert_eq!(split.feeds.len(), 3);
        assert_eq!(split.feeds[1].name, "الجزيرة");
        assert_eq!(split.outputs[1].description, "[[output]]\n");

        let bad = good
            .replace("interval = \"20m\"", "interval = \"20s\"\nname = \"\"")
            .replace("name = \"بي بي سي عربي\"\n", "")
            .replace("\"Al Jazeera\"", "\" \"")
            .replace("\"article .body\"", "\"<<\"")
            .replace("\"20s\"\nallow", "\"2h\"\nallow")
            .replace("https://ج.example/rss", "ftp://ج.example/rss");
        assert!(RawConfig::parse_split(&bad).is_some());
        let split = parse_either(&bad).unwrap_err();
        assert_eq!(split, parse_whole(&bad).unwrap_err());
        let keys: Vec<&str> = split.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "feed[0].name",
                "feed[0].interval",
                "feed[1].outlet",
                "feed[1].full_text_selector",
                "feed[1].full_text_timeout",
                "feed[2].url",
            ],
            "{split:#?}"
        );
    }

    /// A piece that fails sends the file to the whole parse: toml's own
    /// message at the same place, whatever the cut.
    #[test]
    fn broken_feed_tables_get_the_whole_file_message() {
        for text in [
            format!("{GOOD}urll = \"x\"\n"),
            format!("{GOOD}[feed.extra]\nx = 1\n"),
            format!("{GOOD}[[feed]]\nurl = \"https://a.example/\n"),
            format!("feed = []\n{GOOD}"),
            format!("{GOOD}[[feed]]\n"),
            format!("{GOOD}[[output]]\nname = \"o\"\n[[output.feed]]\nurl = 1\n"),
        ] {
            assert_eq!(
                parse_either(&text).unwrap_err(),
                parse_whole(&text).unwrap_err(),
                "{text}"
            );
        }
        let p = problems(&format!("{GOOD}urll = \"x\"\n"));
        assert!(
            p[0].starts_with("/etc/feedwire/feeds.toml:19:1: feed[0].urll: unknown field `urll`"),
            "{p:?}"
        );
    }

    #[test]
    fn syntax_error_is_located() {
        let p = problems("[poll]\ninterval = \"10m\nconcurrency = 3\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("/etc/feedwire/feeds.toml:2:"), "{}", p[0]);
    }

    #[test]
    fn shipped_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml");
        let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.feeds.len() >= 12);
        assert!(c.outputs.iter().any(|o| o.name == "politics"));
    }
}
