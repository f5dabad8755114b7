//! Per-feed status for operators: `GET /status.json` and `feedwire status`.
//!
//! Built from the configured feeds and their stored [`FeedState`]. The JSON
//! field names are an interface (documented in README): extend, never rename.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::parse::escape_html;
use crate::store::FeedState;

/// One feed as operators see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedStatus {
    pub name: String,
    /// As configured in `feeds.toml`.
    pub url: String,
    /// `ok`, `failing`, `gone` (410, not polled), `pending` (never polled),
    /// `no_entries` (the last document shows entries but none was
    /// understood; see `no_entries`) or `repaired` (it read only after the
    /// recovery layer mended it; see `repaired`).
    pub state: String,
    pub last_attempt: Option<String>,
    pub last_success: Option<String>,
    pub last_status: Option<u16>,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub next_due: Option<String>,
    /// Where a 301/308 chain led: update `url` in `feeds.toml` to this.
    pub permanent_redirect: Option<String>,
    /// The configured URL is a web page; this is the feed its head links,
    /// polled instead: put it in `feeds.toml`.
    #[serde(default)]
    pub discovered_feed: Option<String>,
    pub charset: Option<String>,
    pub items_seen: usize,
    pub items_new: usize,
    pub bytes: u64,
    /// The feed's own title, from its last document.
    pub title: Option<String>,
    /// Why the last document yielded no entry although it shows some.
    #[serde(default)]
    pub no_entries: Option<String>,
    /// What the last document needed mended (`1 stray '&'`).
    #[serde(default)]
    pub repaired: Option<String>,
    /// Entries of the last document older than `[storage] retention`, not
    /// stored.
    #[serde(default)]
    pub items_too_old: usize,
    /// Entries of the last document beyond `[poll] max_items`, not read.
    #[serde(default)]
    pub items_over_limit: usize,
    /// Entries of the last document with no title, text or link, not stored.
    #[serde(default)]
    pub items_empty: usize,
    /// The node that polled it last (fleets: which node did what).
    #[serde(default)]
    pub polled_by: Option<String>,
    /// Gaps seen: documents none of whose entries was in the poll before
    /// (entries published in between may have been missed).
    #[serde(default)]
    pub gaps: u64,
    /// When the last gap was seen.
    #[serde(default)]
    pub last_gap: Option<String>,
    /// What the last gap showed; only while the feed is polled faster
    /// because of gaps (null once it is back at its configured interval).
    #[serde(default)]
    pub gap: Option<String>,
    /// Entries the feed's next pages gave back after its gaps, in all.
    #[serde(default)]
    pub recovered: u64,
    /// Entries its next pages gave back after the last gap; null when that
    /// gap's document named no next page (or there was no gap).
    #[serde(default)]
    pub last_recovered: Option<usize>,
    /// Stored items whose text the feed revised (same link and guid, new
    /// title or text), in all.
    #[serde(default)]
    pub revised: u64,
    /// When the last revision was stored.
    #[serde(default)]
    pub last_revision: Option<String>,
    /// The interval in force after the last success, seconds (the
    /// configured one, sped up after gaps, bounded by `[poll]` and the
    /// publisher's ask); null before the first success.
    #[serde(default)]
    pub interval: Option<u64>,
    /// The server's ETag / Last-Modified did not follow its document (it
    /// sent entries we lacked under them), so the feed is polled without
    /// them (`poller::validators`).
    #[serde(default)]
    pub validators_ignored: bool,
    /// Full-text extraction counts; only for feeds with `full_text = true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_text: Option<FullTextStatus>,
}

/// A `full_text` feed's extraction counts, as operators see them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullTextStatus {
    /// Articles extracted and published.
    pub extracted: u64,
    /// Pages that gave no article: those items keep the feed's content.
    pub failed: u64,
    /// Items published with the feed's content because the article was not
    /// there within `full_text_timeout` (updated if it lands later).
    pub fallback: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// `full_text = "auto"`: only teasers' pages are fetched.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto: bool,
}

impl FullTextStatus {
    pub fn new(s: &crate::store::FullTextStats, auto: bool) -> FullTextStatus {
        FullTextStatus {
            auto,
            extracted: s.extracted,
            failed: s.failed,
            fallback: s.fallback,
            last_error: s
                .last_error
                .as_deref()
                .map(|e| crate::generate::published_text(e).into_owned()),
            last_error_at: time(s.last_error_at),
        }
    }

    /// One cell for the table and the page.
    fn summary(&self) -> String {
        format!(
            "{}{} extracted, {} failed, {} fallback",
            if self.auto { "teasers only: " } else { "" },
            self.extracted,
            self.failed,
            self.fallback
        )
    }
}

/// Fills in the full-text counts of the feeds that have `full_text = true`.
pub fn add_full_text(
    feeds: &mut [FeedStatus],
    config: &Config,
    stats_of: impl Fn(&str) -> crate::store::FullTextStats,
) {
    for (status, feed) in feeds.iter_mut().zip(&config.feeds) {
        if let Some(ft) = feed
            .full_text
            .as_ref()
            .filter(|_| status.url == crate::generate::published_url(feed.url.as_str()))
        {
            status.full_text = Some(FullTextStatus::new(&stats_of(feed.url.as_str()), ft.auto));
        }
    }
}

fn time(t: Option<i64>) -> Option<String> {
    t.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A feed's `state` in the status (`ok`, `failing`, `gone`, `pending`,
/// `no_entries`, `repaired`), from its saved state (None: never polled).
pub fn state_label(state: Option<&FeedState>) -> &'static str {
    match state {
        None => "pending",
        Some(s) if s.gone => "gone",
        Some(s) if s.consecutive_failures > 0 || s.last_error.is_some() => "failing",
        Some(s) if s.last_success.is_none() => "pending",
        Some(s) if s.no_entries.is_some() => "no_entries",
        Some(s) if s.repaired.is_some() => "repaired",
        Some(_) => "ok",
    }
}

impl FeedStatus {
    /// The status of the feed at `url` (as configured). The status is
    /// served beside the outputs, so it shows what may be published of the
    /// URL ([`crate::generate::published_url`]: no credential of its query),
    /// in its moves too, and of every URL its error and notes name
    /// ([`crate::generate::published_text`]: a redirect's target or a
    /// page's feed may carry a credential of its own).
    pub fn new(name: &str, url: &str, state: Option<&FeedState>) -> FeedStatus {
        let default = FeedState::default();
        let s = state.unwrap_or(&default);
        let label = state_label(state);
        let published = |u: &String| crate::generate::published_url(u).into_owned();
        let hide = |text: &String| crate::generate::published_text(text).into_owned();
        FeedStatus {
            name: name.to_owned(),
            url: crate::generate::published_url(url).into_owned(),
            state: label.to_owned(),
            last_attempt: time(s.last_attempt),
            last_success: time(s.last_success),
            last_status: s.last_status,
            consecutive_failures: s.consecutive_failures,
            last_error: s.last_error.as_ref().map(hide),
            next_due: if s.gone { None } else { time(s.next_due) },
            permanent_redirect: s.permanent_redirect.as_ref().map(published),
            discovered_feed: s.discovered_feed.as_ref().map(published),
            charset: s.charset.clone(),
            items_seen: s.items_seen,
            items_new: s.items_new,
            bytes: s.bytes,
            title: s.title.clone(),
            no_entries: s.no_entries.as_ref().map(hide),
            repaired: s.repaired.as_ref().map(hide),
            items_too_old: s.items_too_old,
            items_over_limit: s.items_over_limit,
            items_empty: s.items_empty,
            polled_by: s.polled_by.clone(),
            gaps: s.gaps,
            last_gap: time(s.last_gap),
            gap: s
                .last_gap_note
                .as_ref()
                .map(hide)
                .filter(|_| s.speedup > 0)
                .map(|n| match time(s.last_gap) {
                    Some(at) => format!("gaps: {}, the last at {at}: {n}", s.gaps),
                    None => n,
                }),
            recovered: s.recovered,
            last_recovered: s.last_recovered,
            revised: s.revised,
            last_revision: time(s.last_revision),
            interval: s.interval,
            validators_ignored: s.validators_ignored,
            full_text: None,
        }
    }

    /// Where the feed is polled instead of its configured URL, and what to
    /// do about it: the feed a web page links, else a permanent move.
    pub fn moved(&self) -> Option<String> {
        match (&self.discovered_feed, &self.permanent_redirect) {
            (Some(found), _) => Some(format!(
                "a web page; polling the feed it links, {found}: put it in feeds.toml"
            )),
            (None, Some(to)) => Some(format!("moved to {to}: update feeds.toml")),
            (None, None) => None,
        }
    }

    /// The line operators read beside the feed: its error, else what its
    /// last document said (no entries understood, repaired, too old).
    pub fn note(&self) -> Option<String> {
        if let Some(e) = &self.last_error {
            return Some(e.clone());
        }
        let mut parts = Vec::new();
        if let Some(r) = &self.no_entries {
            parts.push(format!("no entries understood: {r}"));
        }
        if let Some(r) = &self.repaired {
            parts.push(format!("repaired: {r}"));
        }
        if self.items_too_old > 0 {
            parts.push(format!(
                "{} entries older than the retention, not stored",
                self.items_too_old
            ));
        }
        if self.items_over_limit > 0 {
            parts.push(format!(
                "{} entries beyond [poll] max_items, not read",
                self.items_over_limit
            ));
        }
        if self.items_empty > 0 {
            parts.push(format!(
                "{} entries with no title, text or link, not stored",
                self.items_empty
            ));
        }
        if let Some(gap) = &self.gap {
            parts.push(gap.clone());
        }
        if self.validators_ignored {
            parts.push(
                "its server answered 304 while it had new entries: polled without ETag/Last-Modified".into(),
            );
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Status of every configured feed, in config order.
pub fn collect(config: &Config, state_of: impl Fn(&str) -> Option<FeedState>) -> Vec<FeedStatus> {
    collect_from(config.feeds.iter(), state_of)
}

/// Status of the given feeds, in the order given.
pub fn collect_from<'a>(
    feeds: impl Iterator<Item = &'a crate::config::FeedConfig>,
    state_of: impl Fn(&str) -> Option<FeedState>,
) -> Vec<FeedStatus> {
    feeds
        .map(|f| FeedStatus::new(&f.name, f.url.as_str(), state_of(f.url.as_str()).as_ref()))
        .collect()
}

/// What a walk over the saved feed states calls with each (URL, state);
/// it returns false to stop the walk.
pub type StateVisitor<'a> = &'a mut dyn FnMut(&str, FeedState) -> bool;

/// Status of the configured feeds whose `state` label `keep` accepts, in
/// config order, from one walk over every saved state: `walk` calls its
/// argument with each (URL, state) the store holds. With 100,000 feeds a
/// lookup per feed costs tens of seconds on a cold store cache; a walk
/// reads each page once, and keeps only the states asked for.
pub fn collect_walked(
    config: &Config,
    keep: impl Fn(&str) -> bool,
    walk: impl FnOnce(StateVisitor<'_>),
) -> Vec<FeedStatus> {
    let pos: std::collections::HashMap<&str, usize> = config
        .feeds
        .iter()
        .enumerate()
        .map(|(i, f)| (f.url.as_str(), i))
        .collect();
    let mut saved = vec![false; config.feeds.len()];
    let mut kept: Vec<(usize, Option<FeedState>)> = Vec::new();
    walk(&mut |url, state| {
        if let Some(&i) = pos.get(url) {
            saved[i] = true;
            if keep(state_label(Some(&state))) {
                kept.push((i, Some(state)));
            }
        }
        true
    });
    if keep(state_label(None)) {
        kept.extend(
            saved
                .iter()
                .enumerate()
                .filter(|(_, s)| !**s)
                .map(|(i, _)| (i, None)),
        );
    }
    kept.sort_unstable_by_key(|(i, _)| *i);
    kept.into_iter()
        .map(|(i, state)| {
            let f = &config.feeds[i];
            FeedStatus::new(&f.name, f.url.as_str(), state.as_ref())
        })
        .collect()
}

/// A slice of `/status.json` (`?state=failing,gone&offset=0&limit=100`):
/// with 100,000 feeds the whole array is ~55 MB, and an operator (or a
/// dashboard) usually wants the broken ones or one page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    /// Comma-separated `state` values to keep; all when absent.
    pub state: Option<String>,
    /// Feeds to skip (after the `state` filter), in config order.
    pub offset: Option<usize>,
    /// At most this many feeds.
    pub limit: Option<usize>,
}

impl StatusQuery {
    /// Whether the query asks for anything but the whole array.
    pub fn is_all(&self) -> bool {
        *self == StatusQuery::default()
    }

    /// Whether a feed in `state` passes the `state` filter.
    pub fn wants_state(&self, state: &str) -> bool {
        self.state
            .as_deref()
            .is_none_or(|s| s.split(',').map(str::trim).any(|w| w == state))
    }

    /// The feeds it selects, in the order given (config order).
    pub fn apply(&self, feeds: Vec<FeedStatus>) -> Vec<FeedStatus> {
        let states: Option<Vec<&str>> = self
            .state
            .as_deref()
            .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).collect());
        feeds
            .into_iter()
            .filter(|f| states.as_ref().is_none_or(|s| s.contains(&f.state.as_str())))
            .skip(self.offset.unwrap_or(0))
            .take(self.limit.unwrap_or(usize::MAX))
            .collect()
    }
}

/// Feeds in the order operators want them: failing, gone, pending, ok.
fn broken_first(feeds: &[FeedStatus]) -> Vec<&FeedStatus> {
    let mut rows: Vec<&FeedStatus> = feeds.iter().collect();
    rows.sort_by_key(|f| match f.state.as_str() {
        "failing" => 0,
        "gone" => 1,
        "no_entries" => 2,
        "pending" => 3,
        "repaired" => 4,
        _ => 5,
    });
    rows
}

/// A plain-text table for `feedwire status`, broken feeds first.
pub fn table(feeds: &[FeedStatus]) -> String {
    let rows = broken_first(feeds);
    let mut out = String::new();
    let width = rows
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    out.push_str(&format!(
        "{:<8} {:<width$} {:>6} {:>5} {:<20} {:<20} {:<9} ERROR / URL\n",
        "STATE", "FEED", "HTTP", "NEW", "LAST SUCCESS", "NEXT POLL", "EVERY"
    ));
    for f in rows {
        let pad = width - f.name.chars().count();
        let detail = match (f.note(), f.moved()) {
            (Some(e), _) => format!("{e} ({})", f.url),
            (None, Some(moved)) => format!("{moved} ({})", f.url),
            (None, None) => f.url.clone(),
        };
        let detail = match &f.full_text {
            None => detail,
            Some(ft) => match &ft.last_error {
                Some(e) => format!("{detail}; full text: {}; last: {e}", ft.summary()),
                None => format!("{detail}; full text: {}", ft.summary()),
            },
        };
        out.push_str(&format!(
            "{:<8} {}{} {:>6} {:>5} {:<20} {:<20} {:<9} {}\n",
            f.state,
            f.name,
            " ".repeat(pad),
            f.last_status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            f.items_new,
            f.last_success.as_deref().unwrap_or("never"),
            f.next_due.as_deref().unwrap_or("-"),
            f.interval
                .map(|s| crate::poller::gaps::human(std::time::Duration::from_secs(s)))
                .unwrap_or_else(|| "-".into()),
            detail
        ));
    }
    out
}

/// One output as the status page shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSummary {
    pub name: String,
    pub title: String,
    pub items: usize,
    /// See `RenderedOutput::span`.
    pub span: Option<i64>,
}

impl OutputSummary {
    /// How long an item stays in the output, for the page: "the last 3h
    /// 10m" when it is full, else that it carries every item it selects.
    fn covers(&self) -> String {
        match self.span {
            Some(s) => format!("the last {}", round_duration(s)),
            None => "every item selected".into(),
        }
    }
}

/// A span in hours and minutes (`3h 10m`), or seconds under a minute.
fn round_duration(secs: i64) -> String {
    let secs = u64::try_from(secs).unwrap_or(0);
    let rounded = if secs < 60 { secs } else { secs / 60 * 60 };
    humantime::format_duration(std::time::Duration::from_secs(rounded)).to_string()
}

/// The operator's status page (`GET /`): plain server-rendered HTML, no
/// script. Names and errors get `dir="auto"`, so Arabic reads right to left
/// inside an English page.
pub fn page(feeds: &[FeedStatus], outputs: &[OutputSummary], items_stored: usize) -> String {
    let rows = broken_first(feeds);
    let broken = feeds
        .iter()
        .filter(|f| matches!(f.state.as_str(), "failing" | "gone" | "no_entries"))
        .count();
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>feedwire status</title>\
<style>body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;width:100%;margin-bottom:2em}\
th,td{border-bottom:1px solid #ddd;padding:.35em .6em;text-align:start;vertical-align:top}th{background:#f4f4f4}\
.ok{color:#176d2c}.failing,.gone,.no_entries{color:#b00020;font-weight:bold}.repaired,.gap{color:#8a5a00}.pending{color:#666}td.err{color:#b00020;max-width:40em}td.t{white-space:nowrap}\
</style></head><body>\n",
    );
    let gapped = feeds.iter().filter(|f| f.gap.is_some()).count();
    let gapped = if gapped > 0 {
        format!(", <span class=\"gap\">{gapped} polled faster after entries may have been missed between polls</span>")
    } else {
        String::new()
    };
    html.push_str(&format!(
        "<h1>feedwire</h1>\n<p>{} feeds, <span class=\"{}\">{broken} broken</span>{gapped}, {items_stored} items stored.</p>\n",
        feeds.len(),
        if broken > 0 { "failing" } else { "ok" }
    ));
    html.push_str(
        "<h2>Outputs</h2>\n<table><tr><th>Output</th><th>Title</th><th>Items</th><th>Covers</th><th>Formats</th></tr>\n",
    );
    for o in outputs {
        // Links carry the name percent-encoded, as the server reads it;
        // the cell shows it as text (an Arabic name reads right to left).
        let href = escape_html(&crate::config::name::url_segment(&o.name));
        html.push_str(&format!(
            "<tr><td dir=\"auto\">{}</td><td dir=\"auto\">{}</td><td>{}</td><td>{}</td><td><a href=\"/{href}.rss\">RSS</a> · <a href=\"/{href}.atom\">Atom</a> · <a href=\"/{href}.json\">JSON</a></td></tr>\n",
            escape_html(&o.name),
            escape_html(&o.title),
            o.items,
            o.covers()
        ));
    }
    html.push_str("</table>\n<h2>Feeds</h2>\n<table><tr><th>State</th><th>Feed</th><th>Last success</th><th>Next poll</th><th>Polled by</th><th>New / seen</th><th>Last error</th></tr>\n");
    for f in rows {
        let error = match (f.note(), f.moved()) {
            (Some(e), _) => escape_html(&e),
            (None, Some(moved)) => escape_html(&moved),
            (None, None) => String::new(),
        };
        let error = match &f.full_text {
            None => error,
            Some(ft) => {
                let last = ft
                    .last_error
                    .as_deref()
                    .map(|e| format!("; last: {}", escape_html(e)))
                    .unwrap_or_default();
                format!("{error}<br>full text: {}{last}", escape_html(&ft.summary()))
            }
        };
        html.push_str(&format!(
            "<tr><td class=\"{state}\">{state}{gap}</td><td dir=\"auto\"><a href=\"{url}\">{name}</a></td><td class=\"t\">{last}</td><td class=\"t\">{next}{every}</td><td>{by}</td><td>{new} / {seen}</td><td class=\"err\" dir=\"auto\">{error}</td></tr>\n",
            state = escape_html(&f.state),
            url = escape_html(&f.url),
            name = escape_html(&f.name),
            last = escape_html(f.last_success.as_deref().unwrap_or("never")),
            next = escape_html(f.next_due.as_deref().unwrap_or("-")),
            every = f
                .interval
                .map(|s| format!(" (every {})", crate::poller::gaps::human(std::time::Duration::from_secs(s))))
                .unwrap_or_default(),
            by = escape_html(f.polled_by.as_deref().unwrap_or("-")),
            gap = if f.gap.is_some() {
                " <span class=\"gap\">(gap)</span>"
            } else {
                ""
            },
            new = f.items_new,
            seen = f.items_seen,
        ));
    }
    html.push_str("</table>\n<p><a href=\"/status.json\">status.json</a> · <a href=\"/metrics\">metrics</a> · <a href=\"/feeds.opml\">feeds.opml</a></p>\n</body></html>\n");
    html
}

/// A fleet of nodes sharing one PostgreSQL store (`/fleet.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fleet {
    /// The node that answered.
    pub this_node: String,
    pub database_reachable: bool,
    pub nodes: Vec<FleetNode>,
    /// Why the node list could not be read, if it could not.
    pub error: Option<String>,
}

/// One node of the fleet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetNode {
    pub name: String,
    pub started: Option<String>,
    pub last_heartbeat: Option<String>,
    pub seconds_since_heartbeat: i64,
    /// Heartbeat within [`NODE_ALIVE`] seconds.
    pub alive: bool,
}

/// A node whose heartbeat is older than this (seconds) is shown as down.
pub const NODE_ALIVE: i64 = 10;

impl Fleet {
    pub fn new(
        this_node: &str,
        reachable: bool,
        nodes: &[crate::store::NodeStatus],
        now: i64,
        error: Option<String>,
    ) -> Fleet {
        Fleet {
            this_node: this_node.to_owned(),
            database_reachable: reachable,
            nodes: nodes
                .iter()
                .map(|n| FleetNode {
                    name: n.name.clone(),
                    started: time(Some(n.started)),
                    last_heartbeat: time(Some(n.heartbeat)),
                    seconds_since_heartbeat: now - n.heartbeat,
                    alive: now - n.heartbeat <= NODE_ALIVE,
                })
                .collect(),
            error,
        }
    }
}

/// The status page with a "Fleet" section before the feeds.
pub fn with_fleet(page: String, fleet: &Fleet) -> String {
    let mut html = format!(
        "<h2>Fleet</h2>\n<p>This is node <b>{}</b>; database {}.</p>\n<table><tr><th>Node</th><th>State</th><th>Last heartbeat</th><th>Started</th></tr>\n",
        escape_html(&fleet.this_node),
        if fleet.database_reachable {
            "<span class=\"ok\">reachable</span>"
        } else {
            "<span class=\"failing\">unreachable</span>"
        }
    );
    for n in &fleet.nodes {
        let state = if n.alive { "ok" } else { "failing" };
        html.push_str(&format!(
            "<tr><td>{}</td><td class=\"{state}\">{}</td><td class=\"t\">{} ({}s ago)</td><td class=\"t\">{}</td></tr>\n",
            escape_html(&n.name),
            if n.alive { "up" } else { "down" },
            escape_html(n.last_heartbeat.as_deref().unwrap_or("-")),
            n.seconds_since_heartbeat,
            escape_html(n.started.as_deref().unwrap_or("-")),
        ));
    }
    html.push_str("</table>\n");
    match page.find("<h2>Feeds</h2>") {
        Some(at) => {
            let mut page = page;
            page.insert_str(at, &html);
            page.replace(
                "<a href=\"/status.json\">status.json</a>",
                "<a href=\"/status.json\">status.json</a> · <a href=\"/fleet.json\">fleet.json</a>",
            )
        }
        None => page + &html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A credential in a feed URL's query is not shown: not in the URL,
    /// nor in an error or a move that names it (an Arabic feed).
    #[test]
    fn a_feed_token_is_not_shown() {
        let url = "https://a.example/rss?lang=ar&token=T0K3N";
        let state = FeedState {
            consecutive_failures: 1,
            last_error: Some(format!(
                "the feed the web page {url} links, https://a.example/f.xml, failed: HTTP 500"
            )),
            permanent_redirect: Some("https://b.example/rss?feed_token=T0K3N".into()),
            ..FeedState::default()
        };
        let status = FeedStatus::new("الجزيرة", url, Some(&state));
        let json = serde_json::to_string(&status).unwrap();
        assert!(!json.contains("T0K3N"), "{json}");
        assert_eq!(status.url, "https://a.example/rss?lang=ar");
        assert_eq!(
            status.last_error.as_deref(),
            Some("the feed the web page https://a.example/rss?lang=ar links, https://a.example/f.xml, failed: HTTP 500")
        );
        assert_eq!(
            status.permanent_redirect.as_deref(),
            Some("https://b.example/rss")
        );
        // A feed URL without a credential, whose error, notes and article
        // error name other URLs that carry one.
        let other = FeedState {
            consecutive_failures: 1,
            last_error: Some(
                "error sending request for url (https://b.example/خبر?Feed_Token=T0K3N&lang=ar)".into(),
            ),
            no_entries: Some("لا مدخلات: see https://b.example/help?apikey=T0K3N.".into()),
            repaired: Some("mended https://u:T0K3N@b.example/rss".into()),
            ..FeedState::default()
        };
        let plain = FeedStatus::new("الجزيرة", "https://a.example/rss?lang=ar", Some(&other));
        let json = serde_json::to_string(&plain).unwrap();
        assert!(!json.contains("T0K3N"), "{json}");
        assert_eq!(
            plain.last_error.as_deref(),
            Some("error sending request for url (https://b.example/خبر?lang=ar)")
        );
        assert_eq!(
            plain.no_entries.as_deref(),
            Some("لا مدخلات: see https://b.example/help.")
        );
        assert_eq!(plain.repaired.as_deref(), Some("mended https://b.example/rss"));
        let article = FullTextStatus::new(
            &crate::store::FullTextStats {
                last_error: Some("HTTP 403 for https://c.example/مقال?sig=T0K3N".into()),
                ..Default::default()
            },
            false,
        );
        assert_eq!(
            article.last_error.as_deref(),
            Some("HTTP 403 for https://c.example/مقال")
        );
    }

    #[test]
    fn states_and_table() {
        let failing = FeedState {
            consecutive_failures: 2,
            last_error: Some("HTTP 500".into()),
            last_attempt: Some(1_764_000_000),
            ..Default::default()
        };
        let ok = FeedState {
            last_success: Some(1_764_000_000),
            last_status: Some(200),
            next_due: Some(1_764_000_900),
            items_new: 3,
            ..Default::default()
        };
        let gone = FeedState {
            gone: true,
            next_due: Some(5),
            ..Default::default()
        };
        let feeds = vec![
            FeedStatus::new("الجزيرة", "https://a.example/rss", Some(&ok)),
            FeedStatus::new("Broken", "https://b.example/rss", Some(&failing)),
            FeedStatus::new("Old", "https://c.example/rss", Some(&gone)),
            FeedStatus::new("New", "https://d.example/rss", None),
        ];
        let states: Vec<&str> = feeds.iter().map(|f| f.state.as_str()).collect();
        assert_eq!(states, ["ok", "failing", "gone", "pending"]);
        assert_eq!(feeds[0].next_due.as_deref(), Some("2025-11-24T16:15:00Z"));
        assert_eq!(feeds[2].next_due, None);
        let t = table(&feeds);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("failing  Broken"), "{t}");
        assert!(lines[1].contains("HTTP 500 (https://b.example/rss)"), "{t}");
        assert!(lines[4].starts_with("ok       الجزيرة"), "{t}");
        let json = serde_json::to_string(&feeds[0]).unwrap();
        assert!(json.contains("\"consecutive_failures\":0"), "{json}");
    }

    /// A web page's feed is shown where a permanent move is: the table, the
    /// page and `/status.json` say which feed is polled and what to do.
    #[test]
    fn a_feed_found_in_a_page_is_shown() {
        let found = FeedState {
            last_success: Some(1_764_000_000),
            permanent_redirect: Some("https://www.example/ar/".into()),
            discovered_feed: Some("https://www.example/ar/أخبار/rss.xml".into()),
            ..Default::default()
        };
        let moved = FeedState {
            last_success: Some(1_764_000_000),
            permanent_redirect: Some("https://new.example/rss".into()),
            ..Default::default()
        };
        let feeds = vec![
            FeedStatus::new("الجزيرة", "https://example/ar", Some(&found)),
            FeedStatus::new("Moved", "https://old.example/rss", Some(&moved)),
        ];
        let t = table(&feeds);
        assert!(
            t.contains("a web page; polling the feed it links, https://www.example/ar/أخبار/rss.xml: put it in feeds.toml (https://example/ar)"),
            "{t}"
        );
        assert!(
            t.contains("moved to https://new.example/rss: update feeds.toml (https://old.example/rss)"),
            "{t}"
        );
        let html = page(&feeds, &[], 0);
        assert!(
            html.contains("polling the feed it links, https://www.example/ar/أخبار/rss.xml"),
            "{html}"
        );
        let json = serde_json::to_string(&feeds[0]).unwrap();
        assert!(
            json.contains("\"discovered_feed\":\"https://www.example/ar/أخبار/rss.xml\""),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<FeedStatus>(&json).unwrap(), feeds[0]);
    }

    #[test]
    fn a_full_text_feed_says_whether_it_fetches_teasers_only() {
        let ok = FeedState {
            last_success: Some(1_764_000_000),
            ..Default::default()
        };
        let stats = crate::store::FullTextStats {
            extracted: 4,
            ..Default::default()
        };
        let mut feeds = vec![
            FeedStatus::new("اليوم السابع", "https://a.example/rss", Some(&ok)),
            FeedStatus::new("الجزيرة", "https://b.example/rss", Some(&ok)),
        ];
        feeds[0].full_text = Some(FullTextStatus::new(&stats, true));
        feeds[1].full_text = Some(FullTextStatus::new(&stats, false));
        let t = table(&feeds);
        assert!(
            t.contains("full text: teasers only: 4 extracted, 0 failed"),
            "{t}"
        );
        assert!(t.contains("full text: 4 extracted, 0 failed"), "{t}");
        let json = serde_json::to_string(&feeds[0]).unwrap();
        assert!(json.contains("\"auto\":true"), "{json}");
        let json = serde_json::to_string(&feeds[1]).unwrap();
        assert!(!json.contains("\"auto\""), "{json}");
    }

    #[test]
    fn documents_with_no_entries_or_repairs_say_so() {
        let base = FeedState {
            last_success: Some(1_764_000_000),
            last_status: Some(200),
            ..Default::default()
        };
        let empty = FeedState {
            no_entries: Some("root <rdf:RDF> in namespace http://x.example/ (entry markup present)".into()),
            ..base.clone()
        };
        let mended = FeedState {
            repaired: Some("1 stray '&'".into()),
            items_too_old: 4,
            ..base.clone()
        };
        let capped = FeedState {
            items_over_limit: 250,
            items_empty: 2,
            revised: 3,
            last_revision: Some(1_796_000_000),
            ..base.clone()
        };
        let feeds = vec![
            FeedStatus::new("heise", "https://h.example/rdf", Some(&empty)),
            FeedStatus::new("اليوم السابع", "https://y.example/rss", Some(&mended)),
            FeedStatus::new("plain", "https://p.example/rss", Some(&base)),
            FeedStatus::new("أرشيف", "https://a.example/rss", Some(&capped)),
        ];
        let states: Vec<&str> = feeds.iter().map(|f| f.state.as_str()).collect();
        assert_eq!(states, ["no_entries", "repaired", "ok", "ok"]);
        assert_eq!(
            feeds[1].note().as_deref(),
            Some("repaired: 1 stray '&'; 4 entries older than the retention, not stored")
        );
        // Entries a document loses by design are named with their reason.
        assert_eq!(
            feeds[3].note().as_deref(),
            Some(
                "250 entries beyond [poll] max_items, not read; \
                 2 entries with no title, text or link, not stored"
            )
        );
        assert_eq!(feeds[2].note(), None);
        let t = table(&feeds);
        assert!(
            t.lines()
                .nth(1)
                .unwrap()
                .contains("no entries understood: root <rdf:RDF> in namespace http://x.example/"),
            "{t}"
        );
        let html = page(&feeds, &[], 0);
        assert!(html.contains("1 broken"), "no entries is broken");
        assert!(html.contains("root &lt;rdf:RDF&gt;"), "escaped: {html}");
        let json = serde_json::to_value(&feeds[1]).unwrap();
        assert_eq!(json["repaired"], "1 stray '&'");
        assert_eq!(json["items_too_old"], 4);
        let json = serde_json::to_value(&feeds[3]).unwrap();
        assert_eq!(
            (json["items_over_limit"].as_u64(), json["items_empty"].as_u64()),
            (Some(250), Some(2))
        );
        // Revisions: how many, and when the last was stored.
        assert_eq!(json["revised"], 3);
        assert_eq!(json["last_revision"], "2026-11-30T00:53:20Z");
        let json = serde_json::to_value(&feeds[2]).unwrap();
        assert_eq!(
            (json["revised"].as_u64(), json["last_revision"].is_null()),
            (Some(0), true)
        );
    }

    #[test]
    fn a_feed_sped_up_after_a_gap_says_so_but_is_not_broken() {
        let gapped = FeedState {
            last_attempt: Some(1_764_000_000),
            last_success: Some(1_764_000_000),
            last_status: Some(200),
            gaps: 3,
            last_gap: Some(1_764_000_000),
            last_gap_note: Some(
                "none of the 20 entries was in the last poll 15m ago: entries published in between may have been missed; polling every 7m30s"
                    .into(),
            ),
            speedup: 1,
            speedup_base: Some(900),
            interval: Some(450),
            ..Default::default()
        };
        let relaxed = FeedState {
            speedup: 0,
            speedup_base: None,
            interval: Some(900),
            ..gapped.clone()
        };
        let feeds = vec![
            FeedStatus::new("اليوم السابع", "https://y.example/rss", Some(&gapped)),
            FeedStatus::new("سكاي نيوز عربية", "https://s.example/rss", Some(&relaxed)),
        ];
        assert_eq!(feeds[0].state, "ok", "a gap is not a failure");
        assert_eq!(
            feeds[0].note().as_deref(),
            Some(
                "gaps: 3, the last at 2025-11-24T16:00:00Z: none of the 20 entries was in the last poll 15m ago: \
                 entries published in between may have been missed; polling every 7m30s"
            )
        );
        // Back at its configured interval: counted, no longer shown.
        assert_eq!(feeds[1].note(), None);
        let json = serde_json::to_value(&feeds).unwrap();
        assert_eq!(json[0]["gaps"], 3);
        assert_eq!(json[0]["last_gap"], "2025-11-24T16:00:00Z");
        assert_eq!(json[0]["interval"], 450);
        assert_eq!(json[1]["gap"], serde_json::Value::Null);
        assert_eq!(json[1]["gaps"], 3);
        let t = table(&feeds);
        let row = t.lines().find(|l| l.contains("اليوم السابع")).unwrap();
        assert!(row.starts_with("ok "), "{t}");
        assert!(
            row.contains(" 7m30s ") && row.contains("the last at 2025-11-24T16:00:00Z"),
            "{t}"
        );
        let html = page(&feeds, &[], 0);
        assert!(html.contains("0 broken"), "{html}");
        assert!(
            html.contains("1 polled faster after entries may have been missed"),
            "{html}"
        );
        assert!(html.contains("ok <span class=\"gap\">(gap)</span>"), "{html}");
        assert!(html.contains("(every 7m30s)"), "{html}");
    }

    #[test]
    fn walked_collection_equals_lookups_in_config_order() {
        let mut text = String::from("[[output]]\nname = \"all\"\ntitle = \"كل الأخبار\"\n");
        for i in 0..6 {
            text.push_str(&format!(
                "[[feed]]\nurl = \"https://h{i}.example/rss\"\nname = \"مصدر {i}\"\n"
            ));
        }
        let config = Config::parse(std::path::Path::new("feeds.toml"), &text).unwrap();
        let ok = FeedState {
            last_success: Some(1_764_000_000),
            ..Default::default()
        };
        let failing = FeedState {
            consecutive_failures: 1,
            last_error: Some("HTTP 500".into()),
            ..Default::default()
        };
        // Saved states in store order (not config order), one of a feed
        // no longer configured; h1 and h4 were never polled.
        let saved: Vec<(String, FeedState)> = vec![
            ("https://h5.example/rss".into(), failing.clone()),
            ("https://gone.example/rss".into(), failing.clone()),
            ("https://h0.example/rss".into(), ok.clone()),
            ("https://h3.example/rss".into(), failing.clone()),
            ("https://h2.example/rss".into(), ok.clone()),
        ];
        let walk = |f: StateVisitor<'_>| {
            for (url, state) in &saved {
                f(url, state.clone());
            }
        };
        let lookup = |url: &str| saved.iter().find(|(u, _)| u == url).map(|(_, s)| s.clone());
        assert_eq!(collect_walked(&config, |_| true, walk), collect(&config, lookup));
        let names = |v: Vec<FeedStatus>| v.into_iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(
            names(collect_walked(&config, |s| s == "failing", walk)),
            ["مصدر 3", "مصدر 5"]
        );
        assert_eq!(
            names(collect_walked(&config, |s| s == "pending", walk)),
            ["مصدر 1", "مصدر 4"]
        );
        let q = StatusQuery {
            state: Some("failing, pending".into()),
            ..Default::default()
        };
        assert!(q.wants_state("pending") && !q.wants_state("ok"));
        assert_eq!(
            collect_walked(&config, |s| q.wants_state(s), walk),
            q.apply(collect(&config, lookup))
        );
    }

    #[test]
    fn status_query_filters_by_state_then_pages() {
        let mut feeds: Vec<FeedStatus> = (0..10)
            .map(|i| FeedStatus::new(&format!("مصدر {i}"), &format!("https://h{i}.example/rss"), None))
            .collect();
        for i in [2, 5, 7, 9] {
            feeds[i].state = "failing".into();
        }
        feeds[3].state = "gone".into();
        let q = |s: &str| -> StatusQuery { serde_urlencoded_like(s) };
        assert!(StatusQuery::default().is_all());
        assert_eq!(
            StatusQuery::default().apply(feeds.clone()),
            feeds,
            "no query: every feed"
        );
        let names = |v: Vec<FeedStatus>| v.into_iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(
            names(q("failing,gone").apply(feeds.clone())),
            ["مصدر 2", "مصدر 3", "مصدر 5", "مصدر 7", "مصدر 9"]
        );
        let page = StatusQuery {
            state: Some("failing".into()),
            offset: Some(1),
            limit: Some(2),
        };
        assert!(!page.is_all());
        assert_eq!(names(page.apply(feeds.clone())), ["مصدر 5", "مصدر 7"]);
        let tail = StatusQuery {
            offset: Some(8),
            limit: Some(100),
            ..StatusQuery::default()
        };
        assert_eq!(names(tail.apply(feeds.clone())), ["مصدر 8", "مصدر 9"]);
        assert!(q("no_such_state").apply(feeds).is_empty());
    }

    fn serde_urlencoded_like(states: &str) -> StatusQuery {
        StatusQuery {
            state: Some(states.into()),
            ..StatusQuery::default()
        }
    }

    #[test]
    fn page_lists_feeds_broken_first_and_escapes() {
        let failing = FeedState {
            consecutive_failures: 1,
            last_error: Some("HTTP 500 <oops>".into()),
            ..Default::default()
        };
        let feeds = vec![
            FeedStatus::new("BBC عربي", "https://feeds.bbci.co.uk/arabic/rss.xml", None),
            FeedStatus::new("سكاي نيوز", "https://www.skynewsarabia.com/rss", Some(&failing)),
        ];
        let outputs = vec![
            OutputSummary {
                name: "politics".into(),
                title: "سياسة".into(),
                items: 42,
                span: Some(3 * 3600 + 10 * 60 + 42),
            },
            OutputSummary {
                name: "أخبار-مصر".into(),
                title: "أخبار <مصر>".into(),
                items: 7,
                span: None,
            },
        ];
        let html = page(&feeds, &outputs, 100);
        assert!(html.contains("<td>42</td><td>the last 3h 10m</td>"), "{html}");
        assert!(html.contains("<td>7</td><td>every item selected</td>"), "{html}");
        assert!(html.contains("<td dir=\"auto\">politics</td>"));
        assert!(html.contains("<a href=\"/politics.rss\">RSS</a> · <a href=\"/politics.atom\">Atom</a>"));
        // An Arabic name is shown as text and linked percent-encoded.
        assert!(
            html.contains(
                "<tr><td dir=\"auto\">أخبار-مصر</td><td dir=\"auto\">أخبار &lt;مصر&gt;</td><td>7</td>"
            ),
            "{html}"
        );
        let encoded = "%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1-%D9%85%D8%B5%D8%B1";
        for ext in ["rss", "atom", "json"] {
            assert!(html.contains(&format!("<a href=\"/{encoded}.{ext}\">")), "{ext}");
        }
        let failing_at = html.find("سكاي نيوز").unwrap();
        let pending_at = html.find("BBC عربي").unwrap();
        assert!(failing_at < pending_at, "broken feeds first");
        assert!(html.contains("HTTP 500 &lt;oops&gt;"));
        assert!(html.contains("<td dir=\"auto\">سياسة</td><td>42</td>"));
        assert!(html.contains("1 broken"));
        assert!(!html.contains("<script"));
    }
}
