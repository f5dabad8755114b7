//! Turns the raw bytes of one fetched document into our [`Item`]s.
//!
//! Sans-IO: a pure function of the feed, the bytes, the HTTP `Content-Type`
//! and the current time, tested on fixture files with no runtime.
//!
//! feed-rs does the format work (RSS 0.9x/1.0/2.0, Atom, JSON Feed). It
//! decodes by the XML declaration only, so the charset is settled here first
//! (BOM, then HTTP charset, then declaration) and the document handed to
//! feed-rs as UTF-8 whenever the two disagree. Text is then cleaned: HTML
//! sanitised with ammonia, XML-illegal characters removed, relative URLs made
//! absolute.

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, Utc};
use feed_rs::model::{Entry, Text};
use url::Url;

use crate::item::{clean_link, is_web, Enclosure, Item, ItemKey, Revision, Sighting, Source, StoredPrint};

pub mod charset;
mod links;
mod nfc;
pub mod recover;

use links::Keying;
pub use links::{SharedLink, SharedLinks};

use charset::decode;
pub use charset::{charset_name, charset_param, decode_xml_text};

/// The feed a document came from, as configured.
#[derive(Clone, Copy, Debug)]
pub struct FeedRef<'a> {
    pub url: &'a Url,
    pub name: &'a str,
}

/// What one document yielded.
#[derive(Debug)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// The publisher's web site (the channel's alternate link).
    pub site_url: Option<String>,
    pub language: Option<String>,
    /// The charset the document was decoded with, for the feed's status.
    pub charset: &'static str,
    /// How often the publisher asks to be polled at most (RSS `<ttl>`,
    /// `sy:updatePeriod`/`sy:updateFrequency`).
    pub min_refresh: Option<Duration>,
    /// Entries beyond the per-document cap, dropped.
    pub dropped: usize,
    /// Entries already known (see [`parse_feed_skipping`]), not built
    /// (or built only to be compared: [`ParsedFeed::revisions`]).
    pub skipped: usize,
    /// Entries with nothing to publish: no title, text or link.
    pub empty: usize,
    /// Entries dated before [`Limits::retention`] (new ones by their own
    /// date, sightings by the stored item's), counted and left out:
    /// stored, they would be pruned at the next retention pass. An entry
    /// known from this feed is `skipped` whatever its date.
    pub too_old: usize,
    /// Entries built into an item (sanitised, cleaned, fingerprinted): the
    /// new ones and the revised ones. What a poll's parse costs, per entry.
    pub built: usize,
    /// What the recovery layer had to mend before the document would read
    /// (`1 stray '&', unclosed CDATA`), for the feed's status.
    pub repaired: Option<String>,
    /// Why a document whose bytes show entries yielded none, so that it is
    /// never a silent success with zero items.
    pub no_entries: Option<String>,
    pub items: Vec<Item>,
    /// Entries other feeds brought already (see [`Known::Elsewhere`]):
    /// the store adds this feed to their sources.
    pub sightings: Vec<Sighting>,
    /// Entries this feed brought already whose fingerprint is not the
    /// stored one (see [`Known::FromThisFeed`]): the store compares and
    /// revises. Counted in `skipped` too (they are not new).
    pub revisions: Vec<Revision>,
    /// The links this document gave to several distinct entries, or that
    /// the feed's memory held and the document used again, with the entry
    /// that holds each: for [`SharedLinks::remember`]. Empty for nearly
    /// every document.
    pub shared_links: Vec<SharedLink>,
    /// The document's next page (RFC 5005 section 3: `<link rel="next">`
    /// in Atom, `<atom:link rel="next">` in an RSS channel; a JSON Feed's
    /// `next_url`): older entries
    /// of the same feed, resolved as every link of the document (xml:base,
    /// else the feed's URL): the poller follows it after a gap
    /// (`poller::pages`).
    pub next_page: Option<String>,
    /// The document's generator is WordPress (`<generator>` naming
    /// wordpress.org): its older pages are `?paged=2`, `?paged=3`... even
    /// when it names none (`poller::pages`).
    pub wordpress: bool,
}

/// Caps that keep one document from costing more than its share.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Entries taken from one document (the first ones, usually the newest).
    pub max_items: usize,
    /// `[storage] retention`: an entry dated before `now` less this is
    /// counted in [`ParsedFeed::too_old`] and not built. Archives and
    /// podcasts list years of entries that are never stored, so the store
    /// never knows them: without the bound each change of such a document
    /// would build them all again only to drop them. `None`: no bound.
    pub retention: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_items: 1000,
            retention: None,
        }
    }
}

impl Limits {
    /// The oldest sort date kept for a document read at `now`.
    fn oldest(&self, now: i64) -> Option<i64> {
        let retention = self.retention?;
        Some(now.saturating_sub(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX)))
    }
}

/// Longest title kept, in characters; longer ones are cut.
pub const MAX_TITLE_CHARS: usize = 1_000;
/// Longest summary kept, in characters (before sanitising).
pub const MAX_SUMMARY_CHARS: usize = 20_000;
/// Longest content kept, in characters (before sanitising).
pub const MAX_CONTENT_CHARS: usize = 500_000;

/// Why a document could not be read as a feed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed ({charset}): {detail}")]
    Invalid { charset: &'static str, detail: String },
}

/// Parses one document. `now` is the first-seen time given to its items.
pub fn parse_feed(
    feed: FeedRef<'_>,
    body: &[u8],
    content_type: Option<&str>,
    now: DateTime<Utc>,
    limits: Limits,
) -> Result<ParsedFeed, ParseError> {
    parse_feed_skipping(feed, body, content_type, now, limits, &|_| Known::New)
}

/// What the store and the feed's saved state tell the parser about the
/// feed's entries (see [`parse_feed_recalling`]).
pub struct Recall<'a> {
    /// What the store holds under a key.
    pub known: &'a dyn Fn(&ItemKey) -> Known,
    /// The item the store holds under a key. Asked only when a link starts
    /// being shared, the store holds it from this feed, and the entries'
    /// dates cannot tell which of them it is (undated entries): once per
    /// such link.
    pub stored: &'a dyn Fn(&ItemKey) -> Option<Item>,
    /// The links this feed has given to several distinct entries.
    pub shared: &'a SharedLinks,
}

/// What the store holds under an entry's key, asked before the entry is
/// built (see [`parse_feed_skipping`]).
#[derive(Debug)]
pub enum Known {
    /// Nothing: the entry is built.
    New,
    /// An item this feed brought already, with its sort date (or one
    /// pruned since: `None`): the entry is skipped and counted in
    /// [`ParsedFeed::skipped`]. When the record carries this feed's text,
    /// `print` is what the store holds of it: an entry whose
    /// [`fingerprint`] differs is built and handed over as a [`Revision`].
    FromThisFeed { date: Option<i64>, print: StoredPrint },
    /// An item other feeds brought, with its stored sort date. The entry
    /// is not built: storing it again would only add this feed as a
    /// source, so it becomes a [`Sighting`] in [`ParsedFeed::sightings`].
    Elsewhere { date: i64 },
}

/// What became of one entry. Unwrapped as soon as it is returned, so the
/// item is not boxed (that would cost an allocation per entry).
#[allow(clippy::large_enum_variant)]
enum Built {
    Item(Item),
    /// New, and dated before the retention bound: not built.
    TooOld,
    /// Known from this feed (or pruned): skipped.
    Known(ItemKey),
    Sighting(Sighting),
    /// Known from this feed, its text's fingerprint not the stored one.
    Revision(Revision),
}

/// As [`parse_feed`], but each entry's key is first put to `known`, and
/// only entries the store does not hold are built: sanitising is most of
/// the cost of a document, a changed feed usually has one or two new
/// entries, and in a round one entry in six is a story another feed of the
/// round brought already.
pub fn parse_feed_skipping(
    feed: FeedRef<'_>,
    body: &[u8],
    content_type: Option<&str>,
    now: DateTime<Utc>,
    limits: Limits,
    known: &dyn Fn(&ItemKey) -> Known,
) -> Result<ParsedFeed, ParseError> {
    let recall = Recall {
        known,
        stored: &|_| None,
        shared: &SharedLinks::default(),
    };
    parse_feed_recalling(feed, body, content_type, now, limits, &recall)
}

/// As [`parse_feed_skipping`], with the feed's memory of the links it has
/// shared between entries and the store's records (see [`links`]): what
/// the poller calls.
pub fn parse_feed_recalling(
    feed: FeedRef<'_>,
    body: &[u8],
    content_type: Option<&str>,
    now: DateTime<Utc>,
    limits: Limits,
    recall: &Recall<'_>,
) -> Result<ParsedFeed, ParseError> {
    let decoded = decode(body, content_type.and_then(charset_param));
    // A fresh parser per attempt: feed-rs 3.0 keeps Media RSS state in the
    // parser and asserts that it is clear, which a failed parse leaves it not.
    let parser = || {
        feed_rs::parser::Builder::new()
            .base_uri(Some(feed.url.as_str()))
            // Replaces feed-rs's own lenient parser; `dates` covers RFC 2822/3339 too.
            .timestamp_parser(crate::dates::parse_date)
            .id_generator(generated_id)
            .build()
    };
    let charset = decoded.charset;
    let shows_entries = |bytes: &[u8]| recover::shows_entries(bytes);
    // Atom 0.3 and RSS 0.90 parse "successfully" as nothing, feed title
    // included: they go to the recovery layer's normalisation directly.
    let strict = if recover::old_dialect(&decoded.bytes) {
        Err(None)
    } else {
        parser().parse(&decoded.bytes[..]).map_err(Some)
    };
    let (parsed, repaired) = match strict {
        // Entries with no link feed-rs reads: the document may give them
        // in other shapes (`<atom:link href>` or `<link href/>` in RSS
        // items, CDF's `<item href>`, Atom's `<link>text</link>`), which
        // the normalisation pass writes as feed-rs reads them. The document
        // is well-formed, so nothing is reported as repaired. Costs a second
        // parse, only for documents with entries lacking links.
        Ok(parsed)
            if is_xml(&decoded.bytes)
                && (linked(&parsed) < parsed.entries.len()
                    // feed-rs drops RSS 1.0 items without a `<link>`.
                    || (parsed.feed_type == feed_rs::model::FeedType::RSS1
                        && recover::count_entries(&decoded.bytes) > parsed.entries.len())) =>
        {
            let recovered = recover::recover(&decoded.bytes);
            match parser().parse(recovered.xml.as_bytes()) {
                Ok(better)
                    if better.entries.len() >= parsed.entries.len() && linked(&better) > linked(&parsed) =>
                {
                    (better, None)
                }
                _ => (parsed, None),
            }
        }
        // The common path: a well-formed document feed-rs reads.
        Ok(parsed) if !parsed.entries.is_empty() || !shows_entries(&decoded.bytes) => (parsed, None),
        strict => {
            // Damaged XML, or a dialect feed-rs reads as nothing: one
            // bounded repair pass, then parse again.
            let recovered = recover::recover(&decoded.bytes);
            match (parser().parse(recovered.xml.as_bytes()), strict) {
                (Ok(parsed), _) => {
                    let note = recovered.repairs.describe();
                    (parsed, note)
                }
                (Err(_), Ok(parsed)) => (parsed, None),
                (Err(e), Err(None)) => {
                    // An old dialect the normalisation did not save: the
                    // document as it came decides.
                    match parser().parse(&decoded.bytes[..]) {
                        Ok(parsed) => (parsed, None),
                        Err(_) => {
                            return Err(ParseError::Invalid {
                                charset,
                                detail: e.to_string(),
                            })
                        }
                    }
                }
                (Err(_), Err(Some(e))) => {
                    return Err(ParseError::Invalid {
                        charset,
                        detail: e.to_string(),
                    })
                }
            }
        }
    };
    let hints = syndication_period(&decoded.bytes);
    // feedparser's rule: a guid is the item's link unless it says
    // `isPermaLink="false"`. Looked up only when some entry needs it.
    let guid_links = if linked(&parsed) == parsed.entries.len() {
        Vec::new()
    } else {
        match guid_permalinks(&decoded.bytes) {
            per_item if per_item.len() == parsed.entries.len() => per_item,
            // Items feed-rs and the scan count differently (damage): the
            // document's habit decides.
            _ => vec![!says_not_permalink(&decoded.bytes); parsed.entries.len()],
        }
    };
    let mut parsed = parsed;
    media_text_as_entry_text(&mut parsed.entries);
    rss1_descriptions_as_html(
        parsed.feed_type == feed_rs::model::FeedType::RSS1,
        &mut parsed.entries,
    );
    pub_date_as_published(&decoded.bytes, &mut parsed.entries);
    let taken = parsed.entries.len().min(limits.max_items);
    let mut out = build(
        feed,
        parsed,
        &decoded.bytes,
        charset,
        hints,
        now,
        limits,
        &guid_links,
        recall,
    );
    out.empty = taken.saturating_sub(out.items.len() + out.sightings.len() + out.skipped + out.too_old);
    out.repaired = repaired;
    if out.next_page.is_none() && !is_xml(&decoded.bytes) {
        out.next_page = json_next_url(&decoded.bytes, feed.url);
    }
    if out.items.is_empty()
        && out.sightings.is_empty()
        && out.skipped == 0
        && out.too_old == 0
        && out.dropped == 0
        && shows_entries(&decoded.bytes)
    {
        out.no_entries = Some(format!(
            "{} (entry markup present)",
            recover::describe_root(&decoded.bytes)
        ));
    }
    Ok(out)
}

/// Cuts a document over `[poll] max_items` to its newest `max` entries.
/// Feeds list newest first, and the entries past the cap are the oldest;
/// but a document that lists oldest first (an archive feed, a changelog, a
/// CMS sorting ascending) would keep its oldest entries and never read a
/// new one, which it appends at the end. The order is told by its dated
/// entries, next to next: ascending when steps up outnumber steps down two
/// to one (a stray old entry or a CMS's 1970 placeholder among newest-first
/// ones does not turn the document); otherwise, and undated, the first
/// entries are kept.
/// Returns how many entries went from the front (so that per-entry facts
/// scanned from the whole document still line up).
fn keep_newest(entries: &mut Vec<Entry>, max: usize) -> usize {
    if entries.len() <= max {
        return 0;
    }
    let dates: Vec<i64> = entries
        .iter()
        .filter_map(|e| e.published.or(e.updated))
        .map(|d| d.timestamp())
        .filter(|&d| d >= crate::item::PLAUSIBLE_SINCE)
        .collect();
    let (up, down) = dates.windows(2).fold((0, 0), |(up, down), w| {
        (up + usize::from(w[0] < w[1]), down + usize::from(w[0] > w[1]))
    });
    match up > 2 * down {
        true => {
            let front = entries.len() - max;
            entries.drain(..front);
            front
        }
        false => {
            entries.truncate(max);
            0
        }
    }
}

/// An entry that gives its title or text only in Media RSS
/// (`<media:title>`, `<media:description>`, in a `<media:group>` or not:
/// YouTube's feeds, podcast and video feeds) gets them as its own, as
/// feedparser reads it; without a title, text or link of its own such an
/// entry would be dropped as empty, and with a title only it would be
/// published without its description.
fn media_text_as_entry_text(entries: &mut [Entry]) {
    let blank = |t: &Option<Text>| t.as_ref().is_none_or(|t| t.content.trim().is_empty());
    for entry in entries {
        let no_text = blank(&entry.summary) && entry.content.as_ref().is_none_or(|c| c.body.is_none());
        if !blank(&entry.title) && !no_text {
            continue;
        }
        let title = entry
            .media
            .iter()
            .find_map(|m| m.title.clone().filter(|t| !t.content.trim().is_empty()));
        let text = entry
            .media
            .iter()
            .find_map(|m| m.description.clone().filter(|t| !t.content.trim().is_empty()));
        if blank(&entry.title) {
            entry.title = title.or(entry.title.take());
        }
        if no_text {
            entry.summary = text.or(entry.summary.take());
        }
    }
}

/// RSS 1.0 descriptions are HTML, as RSS 2.0's are. feed-rs takes an RSS
/// 1.0 `<description>` (and `dc:description`) as plain text; but RSS 1.0
/// publishers (Slashdot, Debian's advisories, InfoQ, RubyForge) escape
/// HTML into it as RSS 2.0 publishers do, and as plain text its `<i>`,
/// `<p>`, `&mdash;` and tracking `<img>` reached subscribers as
/// characters. feedparser reads it as HTML too.
fn rss1_descriptions_as_html(rss1: bool, entries: &mut [Entry]) {
    if !rss1 {
        return;
    }
    for summary in entries.iter_mut().filter_map(|e| e.summary.as_mut()) {
        if !is_html(summary) {
            summary.content_type = "text/html".parse().expect("a valid media type");
        }
    }
}

/// An RSS item with both `<pubDate>` and `<dc:date>`: feed-rs reads both
/// into `published`, the later in the document winning, and an unreadable
/// one erasing the other. Publishers (the Guardian) write the last edit in
/// `dc:date`, hours after the story went out, and some write a Unix
/// timestamp there (`<dc:date>1518478934</dc:date>`), which left the item
/// undated. As feedparser reads them: `published` is the pubDate, and the
/// other date, when it differs, `updated`. Only documents that have both
/// elements are scanned, and only when the scan finds as many items as
/// feed-rs did (damaged XML: the dates stay as feed-rs read them).
fn pub_date_as_published(doc: &[u8], entries: &mut [Entry]) {
    if memchr::memmem::find(doc, b"<pubDate").is_none() || memchr::memmem::find(doc, b":date>").is_none() {
        return;
    }
    let dates = item_pub_dates(doc);
    if dates.len() != entries.len() {
        return;
    }
    for (entry, date) in entries.iter_mut().zip(dates) {
        let Some(date) = date else { continue };
        if entry.published != Some(date) {
            if let Some(other) = entry.published {
                entry.updated = Some(entry.updated.map_or(other, |u| u.max(other)));
            }
            entry.published = Some(date);
        }
    }
}

/// For each `<item>` in document order, its `<pubDate>` as read by
/// [`crate::dates::parse_date`]. Stops at the first XML error.
fn item_pub_dates(doc: &[u8]) -> Vec<Option<DateTime<Utc>>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(doc);
    reader.config_mut().check_end_names = false;
    let mut per_item = Vec::new();
    let mut buf = Vec::new();
    // Inside an item's own `<pubDate>`: its text so far.
    let mut text: Option<String> = None;
    let mut depth_in_item: Option<usize> = None;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                match (e.local_name().into_inner(), depth_in_item) {
                    ("item", None) => {
                        per_item.push(None);
                        depth_in_item = Some(0);
                        continue;
                    }
                    (_, Some(0)) if e.name().into_inner() == "pubDate" => text = Some(String::new()),
                    _ => {}
                }
                if let Some(d) = depth_in_item.as_mut() {
                    *d += 1;
                }
            }
            Ok(Event::Empty(e)) if e.local_name().into_inner() == "item" && depth_in_item.is_none() => {
                per_item.push(None);
            }
            Ok(Event::Text(t)) => {
                if let Some(s) = text.as_mut() {
                    s.push_str(&t.into_inner());
                }
            }
            Ok(Event::CData(t)) => {
                if let Some(s) = text.as_mut() {
                    s.push_str(&t.into_inner());
                }
            }
            Ok(Event::End(_)) => match depth_in_item {
                Some(0) => depth_in_item = None,
                Some(d) => {
                    if let (Some(s), 1) = (text.take(), d) {
                        if let Some(last) = per_item.last_mut() {
                            *last = crate::dates::parse_date(&s);
                        }
                    }
                    depth_in_item = Some(d - 1);
                }
                None => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
        buf.clear();
    }
    per_item
}

/// Marks the ids feed-rs makes up for entries that have none, so that
/// they are never read as a link (see [`entry_id`]).
const GENERATED: &str = "\u{0}generated:";

/// feed-rs's id for an entry without one: a hash of its first link and
/// title, or of the feed URL and title; both are stable across polls and
/// keep the keys items were stored under. Where feed-rs would fall back to
/// a random UUID (no link, no title), a new key every poll, the id is left
/// empty and [`entry_to_item`] keys the entry on its content instead.
fn generated_id(links: &[feed_rs::model::Link], title: &Option<Text>, uri: Option<&str>) -> String {
    if links.is_empty() && (title.is_none() || uri.is_none()) {
        return String::new();
    }
    format!("{GENERATED}{}", feed_rs::parser::generate_id(links, title, uri))
}

/// The entry's id as the document gives it, or `None` when feed-rs made
/// it up; and the id to key on (made-up ones included).
fn entry_id(entry: &Entry) -> (Option<&str>, &str) {
    match entry.id.strip_prefix(GENERATED) {
        Some(made_up) => (None, made_up),
        None => (Some(entry.id.trim()), entry.id.trim()),
    }
}

/// Entries with a link of their own: an alternate link, or an id that is
/// an http(s) URL.
fn linked(feed: &feed_rs::model::Feed) -> usize {
    feed.entries
        .iter()
        .filter(|e| {
            e.links
                .iter()
                .any(|l| is_alternate(l) && !l.href.trim().is_empty())
                || entry_id(e)
                    .0
                    .is_some_and(|id| Url::parse(id).is_ok_and(|u| is_web(&u)))
        })
        .count()
}

/// For each RSS `<item>` in document order, whether its guid may be read
/// as its link: not when it says `isPermaLink="false"`. feed-rs keeps the
/// guid but not the attribute. Stops at the first XML error.
fn guid_permalinks(doc: &[u8]) -> Vec<bool> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(doc);
    reader.config_mut().check_end_names = false;
    let mut per_item = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().into_inner() {
                "item" => per_item.push(true),
                "guid" => {
                    let not_permalink = e.attributes().flatten().any(|a| {
                        a.key
                            .local_name()
                            .into_inner()
                            .eq_ignore_ascii_case("isPermaLink")
                            && a.value.trim().eq_ignore_ascii_case("false")
                    });
                    if let (true, Some(last)) = (not_permalink, per_item.last_mut()) {
                        *last = false;
                    }
                }
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
        buf.clear();
    }
    per_item
}

/// XML rather than JSON Feed: the first byte that is not white space.
fn is_xml(doc: &[u8]) -> bool {
    doc.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
}

/// `isPermaLink="false"` anywhere: the publisher's guids are not links.
fn says_not_permalink(doc: &[u8]) -> bool {
    contains_ignore_case(doc, b"ispermalink=\"false\"") || contains_ignore_case(doc, b"ispermalink='false'")
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

#[allow(clippy::too_many_arguments)]
fn build(
    feed: FeedRef<'_>,
    parsed: feed_rs::model::Feed,
    doc: &[u8],
    charset: &'static str,
    sy_period: Option<Duration>,
    now: DateTime<Utc>,
    limits: Limits,
    guid_links: &[bool],
    recall: &Recall<'_>,
) -> ParsedFeed {
    let known = recall.known;
    let language = parsed.language.as_deref().map(clean_text);
    let ttl = parsed.ttl.map(|m| Duration::from_secs(u64::from(m) * 60));
    let now = now.timestamp();
    let when = When {
        now,
        oldest: limits.oldest(now),
    };
    let total = parsed.entries.len();
    let mut skipped = 0;
    let mut too_old = 0;
    let mut built = 0;
    let site_url = parsed
        .links
        .iter()
        .filter(|l| is_alternate(l))
        .find_map(|l| feed.url.join(l.href.trim()).ok().filter(is_web))
        .map(String::from);
    let next_page = next_page(&parsed.links);
    let wordpress = parsed.generator.as_ref().is_some_and(|g| {
        [Some(g.content.as_str()), g.uri.as_deref()]
            .into_iter()
            .flatten()
            .any(|t| t.to_ascii_lowercase().contains("wordpress"))
    });
    // Every item's source names the feed: cleaned once, not per entry.
    let name = text_only(feed.name);
    let feed = FeedRef {
        url: feed.url,
        name: &name,
    };
    let mut sightings = Vec::new();
    let mut revisions = Vec::new();
    // The keys of entries known from this feed met so far in the document.
    let mut met: std::collections::HashSet<ItemKey> = std::collections::HashSet::new();
    let rss = matches!(
        parsed.feed_type,
        feed_rs::model::FeedType::RSS0 | feed_rs::model::FeedType::RSS1 | feed_rs::model::FeedType::RSS2
    );
    let mut entries = parsed.entries;
    let front = keep_newest(&mut entries, limits.max_items);
    let guid_is_link = |i: usize| guid_links.get(front + i).copied().unwrap_or(true);
    // Each entry's link, chosen and cleaned once: the key is made from it,
    // and it is the link published.
    let mut originals: Vec<Option<Url>> = entries.iter().map(|e| pick_link(e, feed.url)).collect();
    let mut links: Vec<Option<Url>> = originals.iter().map(|l| l.as_ref().map(clean_link)).collect();
    let (keyings, shared_links) = {
        let fragments: Vec<Option<&str>> = originals
            .iter()
            .map(|l| l.as_ref().and_then(Url::fragment).filter(|f| !f.is_empty()))
            .collect();
        let site = site_url.as_deref().and_then(|s| Url::parse(s).ok());
        links::keyings(&entries, &links, &fragments, feed.url, site.as_ref(), recall, now)
    };
    // The guids that are permalinks, scanned only when an entry keyed
    // apart may take its guid as its link (every entry has a link, so
    // `guid_links` was not scanned).
    let mut permalinks: Option<Vec<bool>> = None;
    let mut keys: Vec<Option<ItemKey>> = Vec::with_capacity(entries.len());
    for (i, link) in links.iter_mut().enumerate() {
        let keying = keyings.as_ref().map_or(&Keying::Link, |k| &k[i]);
        keys.push(match (keying, link) {
            (Keying::Link, _) | (_, None) => None,
            (Keying::Fragment(f), Some(link)) => {
                link.set_fragment(Some(f));
                Some(ItemKey::from_clean_link(link))
            }
            (Keying::Entry(id), Some(shared)) => {
                let entry_key = ItemKey::for_entry(id, feed.url);
                let permalink = rss
                    && match (guid_links.is_empty(), &permalinks) {
                        (false, _) => guid_is_link(i),
                        (true, Some(p)) => p.get(front + i).copied().unwrap_or(false),
                        (true, None) => {
                            let p = permalinks.insert(guid_permalinks(doc));
                            p.len() == total && p[front + i]
                        }
                    };
                match links::own_guid_link(&entries[i], shared).filter(|_| permalink) {
                    // Keyed apart by an older build: it stays under that key.
                    Some(_) if matches!(known(&entry_key), Known::FromThisFeed { .. }) => Some(entry_key),
                    Some(guid) => {
                        originals[i] = Some(guid.clone());
                        *shared = clean_link(&guid);
                        None
                    }
                    None => Some(entry_key),
                }
            }
        });
    }
    let items: Vec<Item> = entries
        .into_iter()
        .zip(originals.into_iter().zip(links).zip(keys))
        .enumerate()
        .filter_map(|(i, (e, ((original_link, link), key)))| {
            let guid_is_link = guid_is_link(i);
            let link = EntryLink {
                original: original_link,
                clean: link,
                key,
            };
            match entry_to_item(feed, e, link, language.as_deref(), when, guid_is_link, known)? {
                // Built all the same: an old entry whose emptiness only
                // its built text can tell (see `entry_to_item`).
                Built::Item(item) if when.too_old(item.date) => {
                    built += 1;
                    too_old += 1;
                    None
                }
                Built::Item(item) => {
                    built += 1;
                    Some(item)
                }
                Built::TooOld => {
                    too_old += 1;
                    None
                }
                Built::Known(key) => {
                    skipped += 1;
                    met.insert(key);
                    None
                }
                // The stored item's date decides: it is what the store
                // would keep and prune by.
                Built::Sighting(sighting) if when.too_old(sighting.date) => {
                    too_old += 1;
                    None
                }
                Built::Sighting(sighting) => {
                    sightings.push(sighting);
                    None
                }
                Built::Revision(revision) => {
                    built += usize::from(revision.item.is_some());
                    skipped += 1;
                    // Only the first entry of a key in the document speaks
                    // for it (as the first is the one stored when the key
                    // is new): two entries of one key with two texts would
                    // otherwise revise the item back and forth every poll.
                    if met.insert(revision.key.clone()) {
                        revisions.push(revision);
                    }
                    None
                }
            }
        })
        .collect();
    ParsedFeed {
        title: parsed.title.map(|t| cut(text_to_plain(t), MAX_TITLE_CHARS)),
        site_url,
        language,
        charset,
        min_refresh: ttl.max(sy_period),
        dropped: total.saturating_sub(limits.max_items),
        skipped,
        empty: 0,
        too_old,
        built,
        repaired: None,
        no_entries: None,
        items,
        sightings,
        revisions,
        shared_links,
        next_page,
        wordpress,
    }
}

/// The feed's first `rel="next"` link (RFC 5005 paging; the IANA URI
/// form of the relation too), resolved by feed-rs. feed-rs keeps the rel of
/// Atom's links and of the `atom:link`s of an RSS channel.
fn next_page(links: &[feed_rs::model::Link]) -> Option<String> {
    links
        .iter()
        .find(|l| {
            l.rel.as_deref().is_some_and(|r| {
                let r = r.trim();
                r.eq_ignore_ascii_case("next")
                    || r.eq_ignore_ascii_case("http://www.iana.org/assignments/relation/next")
            })
        })
        .map(|l| l.href.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// A JSON Feed's `next_url` (JSON Feed 1.0 and 1.1: "the URL of a feed
/// that provides the next n items", its paging), which feed-rs does not
/// keep. Resolved against the feed's URL (the spec asks for an absolute
/// URL; a relative one is read as a browser would). Only documents naming
/// it are read a second time, and only for that key.
fn json_next_url(doc: &[u8], feed_url: &Url) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Paging {
        next_url: Option<String>,
    }
    memchr::memmem::find(doc, b"\"next_url\"")?;
    let next = serde_json::from_slice::<Paging>(doc).ok()?.next_url?;
    let next = next.trim();
    if next.is_empty() {
        return None;
    }
    feed_url.join(next).ok().map(String::from)
}

/// `sy:updatePeriod` / `sy:updateFrequency` (RSS 1.0 syndication module),
/// which feed-rs does not read. Looked up in the channel head only.
fn syndication_period(doc: &[u8]) -> Option<Duration> {
    let head = &doc[..doc.len().min(16 * 1024)];
    // Nearly no feed has one: the bytes are searched before the head is
    // checked as text (std's check goes a character at a time through
    // Arabic, and this ran over every document's first 16 KiB).
    memchr::memmem::find(head, b":updatePeriod>")?;
    let head = std::str::from_utf8(head)
        .unwrap_or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]).expect("valid prefix"));
    let element = |name: &str| -> Option<&str> {
        let start = head.find(&format!(":{name}>"))? + name.len() + 2;
        let end = head[start..].find('<')? + start;
        Some(head[start..end].trim())
    };
    let period = match element("updatePeriod")? {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    };
    let frequency = element("updateFrequency")
        .and_then(|f| f.parse::<u64>().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    Some(Duration::from_secs(period / frequency))
}

/// Cuts `s` to at most `max` characters, on a character boundary.
fn cut(mut s: String, max: usize) -> String {
    let keep = cut_borrowed(&s, max).len();
    s.truncate(keep);
    s
}

/// [`cut`] without the copy. A string of at most `max` bytes has at most
/// `max` characters: nearly every entry, answered without walking it.
fn cut_borrowed(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// An entry's link as [`build`] settled it.
struct EntryLink {
    /// As the document gives it ([`pick_link`]).
    original: Option<Url>,
    /// Cleaned ([`clean_link`]); with its fragment when that names the
    /// entry ([`links::Keying::Fragment`]).
    clean: Option<Url>,
    /// The key, when it is not the clean link's ([`links`]).
    key: Option<ItemKey>,
}

/// When a document is read: the first-seen time of its new items, and
/// the oldest sort date kept ([`Limits::retention`]).
#[derive(Clone, Copy)]
struct When {
    now: i64,
    oldest: Option<i64>,
}

impl When {
    /// A sort date before the retention's bound.
    fn too_old(&self, date: i64) -> bool {
        self.oldest.is_some_and(|oldest| date < oldest)
    }
}

/// An entry's dates as its item holds them: `published` and `updated` as
/// the document gives them (once [`pub_date_as_published`] has read
/// them), and the sort date [`Item::pick_date`] makes of them for an item
/// first seen at `first_seen`. The one rule for the item built, for the
/// retention bound checked before building it, and for telling which
/// entry a stored item is (`links`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntryDates {
    pub published: Option<i64>,
    pub updated: Option<i64>,
    pub date: i64,
}

impl EntryDates {
    pub(crate) fn of(entry: &Entry, first_seen: i64) -> EntryDates {
        let published = entry.published.map(|d| d.timestamp());
        let updated = entry.updated.map(|d| d.timestamp());
        EntryDates {
            published,
            updated,
            date: Item::pick_date(published, updated, first_seen),
        }
    }
}

/// `None`: not an item.
fn entry_to_item(
    feed: FeedRef<'_>,
    mut entry: Entry,
    link: EntryLink,
    feed_language: Option<&str>,
    when: When,
    guid_is_link: bool,
    known: &dyn Fn(&ItemKey) -> Known,
) -> Option<Built> {
    let now = when.now;
    let EntryLink {
        original: original_link,
        clean: mut link,
        key,
    } = link;
    let (given_id, key_id) = entry_id(&entry);
    let key = match (key, &link) {
        (Some(key), _) => key,
        (None, Some(l)) => ItemKey::from_clean_link(l),
        (None, None) if !key_id.is_empty() => ItemKey::from_guid(key_id, feed.url),
        // No link, no id, no title: the content is all there is to know the
        // entry again by on the next poll.
        (None, None) => ItemKey::from_guid(&content_digest(&entry)?, feed.url),
    };
    // A relative guid (`<guid>/2025/11/a</guid>`, `<id>1</id>`) is the
    // item's link as feedparser reads it, resolved against xml:base or
    // the feed's URL. The key stays the guid's own, scoped to its feed: a
    // relative id names nothing outside it, and two feeds of one site
    // numbering their entries alike must not deduplicate into each other.
    let original_link = original_link.or_else(|| {
        let id = given_id.filter(|id| guid_is_link && !id.is_empty())?;
        match Url::parse(id) {
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                let resolved = entry_base(&entry, feed.url).join(id).ok().filter(is_web)?;
                link = Some(clean_link(&resolved));
                Some(resolved)
            }
            _ => None,
        }
    });
    let source = || Source {
        feed_url: feed.url.to_string(),
        // `build` hands over the name cleaned (`text_only`).
        feed_name: feed.name.to_owned(),
        link: original_link.as_ref().map(Url::to_string),
    };
    let dates = EntryDates::of(&entry, now);
    // Hashed only for an entry whose text the store may keep or compare:
    // an item another feed's text or a pruned one costs nothing more.
    let (print, revising) = match known(&key) {
        // Older than the retention: it would be built only to be dropped.
        // Unless the built text alone can say whether it is empty (no
        // link, no title: its summary or content may sanitise to nothing),
        // which counts it as empty instead (`build` drops it after).
        Known::New if when.too_old(dates.date) && (link.is_some() || has_title(&entry)) => {
            return Some(Built::TooOld)
        }
        Known::New => (fingerprint(&entry), false),
        Known::FromThisFeed {
            print: StoredPrint::NotOurs,
            ..
        } => return Some(Built::Known(key)),
        Known::FromThisFeed {
            print: StoredPrint::Missing,
            ..
        } => {
            return Some(Built::Revision(Revision {
                key,
                print: fingerprint(&entry),
                item: None,
                feed_url: feed.url.to_string(),
            }))
        }
        Known::FromThisFeed {
            print: StoredPrint::Is(stored),
            ..
        } => match fingerprint(&entry) {
            // The common case of a known entry: the feed says what it said.
            same if same == stored => return Some(Built::Known(key)),
            changed => (changed, true),
        },
        Known::Elsewhere { date } => {
            return Some(Built::Sighting(Sighting {
                key,
                date,
                source: source(),
            }))
        }
    };
    let base = link.as_ref().unwrap_or(feed.url);

    // The entry's own strings are moved out where they are used last, not
    // copied (titles, authors, categories: an allocation each per entry).
    let title = entry
        .title
        .take()
        .map(|t| cut(text_to_plain(t), MAX_TITLE_CHARS))
        .filter(|t| !t.is_empty())
        .unwrap_or_default();
    let content_in = entry.content.as_ref().and_then(|c| {
        let body = cut_borrowed(c.body.as_deref()?, MAX_CONTENT_CHARS);
        Some((body, declares_html(&c.content_type)))
    });
    let content = content_in.map(|(body, html)| text_to_html(body, html, base));
    let summary = entry.summary.as_ref().map(|t| {
        let summary_in = (cut_borrowed(&t.content, MAX_SUMMARY_CHARS), is_html(t));
        match &content {
            // Many feeds send the same text as summary and content
            // (`<description>` and `<content:encoded>`): the same text
            // sanitised against the same base is the same HTML, made once.
            Some(same) if content_in == Some(summary_in) => same.clone(),
            _ => text_to_html(summary_in.0, summary_in.1, base),
        }
    });
    let content = content.filter(|s| !s.trim().is_empty());
    let summary = summary
        .filter(|s| !s.trim().is_empty())
        .or_else(|| content.as_deref().and_then(summary_from_content));
    if title.is_empty() && summary.is_none() && content.is_none() && link.is_none() {
        return None;
    }

    let EntryDates {
        published,
        updated,
        date,
    } = dates;
    let authors = entry
        .authors
        .iter_mut()
        .filter_map(|p| {
            let name = text_only_owned(p.name.take().unwrap_or_default());
            (!name.is_empty()).then_some(name)
        })
        .collect();
    let mut categories: Vec<String> = Vec::new();
    for c in &mut entry.categories {
        let name = text_only_owned(c.label.take().unwrap_or_else(|| std::mem::take(&mut c.term)));
        if !name.is_empty() && !categories.contains(&name) {
            categories.push(name);
        }
    }

    let enclosure = pick_enclosure(&entry, base);
    let item = Item {
        key,
        link: link.map(String::from),
        title,
        summary,
        content,
        authors,
        categories,
        published,
        updated,
        first_seen: now,
        date,
        language: entry
            .language
            .as_deref()
            .map(clean_text)
            .or_else(|| feed_language.map(str::to_owned)),
        enclosure,
        sources: vec![source()],
        fingerprint: Some(print),
    };
    Some(match revising {
        true => Built::Revision(Revision {
            key: item.key.clone(),
            print,
            feed_url: feed.url.to_string(),
            item: Some(item),
        }),
        false => Built::Item(item),
    })
}

/// Whether the entry's item would have a title ([`entry_to_item`]'s rule;
/// the text copied, as it is asked only of old entries without a link).
fn has_title(entry: &Entry) -> bool {
    entry
        .title
        .as_ref()
        .is_some_and(|t| !text_to_plain(t.clone()).is_empty())
}

/// Fixed SipHash keys of [`fingerprint`]: the value is persisted, so it
/// must be the same in every build (std's `DefaultHasher` promises not).
const PRINT_KEYS: (u64, u64) = (0x6665_6564_7769_7265, 0x7265_7669_7369_6f6e); // "feedwire", "revision"

/// A stable 64-bit hash of what the feed said of an entry: its title,
/// summary and content as feed-rs gives them (before sanitising, so that
/// a known entry whose feed says the same costs a hash, not a build),
/// its authors' names and its categories: the fields an item's published
/// text is made of. Each field is length-prefixed, so that text moving
/// from one field to the next changes it. The enclosure is left out:
/// media URLs carry signed, rotating tokens in many podcast feeds, which
/// would rebuild those entries on every poll for nothing to publish.
pub fn fingerprint(entry: &Entry) -> u64 {
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher13::new_with_keys(PRINT_KEYS.0, PRINT_KEYS.1);
    // Bytes in a fixed order (`write_u64` would hash native-endian ones).
    let mut field = |tag: u8, text: Option<&str>| {
        let text = text.unwrap_or_default();
        h.write(&[tag]);
        h.write(&(text.len() as u64).to_le_bytes());
        h.write(text.as_bytes());
    };
    field(b't', entry.title.as_ref().map(|t| t.content.as_str()));
    field(b's', entry.summary.as_ref().map(|t| t.content.as_str()));
    field(b'c', entry.content.as_ref().and_then(|c| c.body.as_deref()));
    for a in &entry.authors {
        field(b'a', a.name.as_deref());
    }
    for c in &entry.categories {
        field(b'k', Some(c.label.as_deref().unwrap_or(&c.term)));
    }
    h.finish()
}

/// A link to the entry's (or feed's) own page: `rel` absent or
/// `alternate`, and not the RSS `<comments>` / `wfw:commentRss` links,
/// which feed-rs gives without a `rel` but with a target.
fn is_alternate(l: &feed_rs::model::Link) -> bool {
    l.target.is_none() && matches!(l.rel.as_deref(), None | Some("alternate"))
}

/// A key for an entry with nothing else to know it by: a digest of its
/// text and date. `None` when it has none of these either.
fn content_digest(entry: &Entry) -> Option<String> {
    use sha2::{Digest, Sha256};
    let parts = [
        entry.summary.as_ref().map(|t| t.content.as_str()),
        entry.content.as_ref().and_then(|c| c.body.as_deref()),
        entry.title.as_ref().map(|t| t.content.as_str()),
    ];
    if parts.iter().all(|p| p.is_none_or(|t| t.trim().is_empty())) {
        return None;
    }
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.unwrap_or_default().trim().as_bytes());
        hash.update([0]);
    }
    if let Some(date) = entry.published.or(entry.updated) {
        hash.update(date.timestamp().to_be_bytes());
    }
    let hex: String = hash.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("sha256:{hex}"))
}

/// What an entry's relative references resolve against: its xml:base,
/// itself resolved against the feed's URL, or that URL (borrowed: most
/// entries have no xml:base, and this is asked per link).
fn entry_base<'a>(entry: &Entry, feed_url: &'a Url) -> Cow<'a, Url> {
    match entry.base.as_deref().and_then(|b| feed_url.join(b).ok()) {
        Some(base) => Cow::Owned(base),
        None => Cow::Borrowed(feed_url),
    }
}

/// The item's web page: an Atom `alternate` link (HTML preferred), else an
/// RSS `<link>`, else a guid that is itself an http(s) URL.
fn pick_link(entry: &Entry, feed_url: &Url) -> Option<Url> {
    let resolve = |href: &str| {
        let base = entry_base(entry, feed_url);
        // A link escaped twice (`?a=1&amp;amp;b=2` in the XML) means `&`:
        // publishers' templates do this, and feedparser reads it so too.
        let href = href.trim();
        let href = if href.contains("&amp;") {
            Cow::Owned(href.replace("&amp;", "&"))
        } else {
            Cow::Borrowed(href)
        };
        base.join(&href).ok().filter(is_web)
    };
    let alternates = entry.links.iter().filter(|l| is_alternate(l));
    let html_first = alternates
        .clone()
        .filter(|l| l.media_type.as_deref().is_none_or(|t| t.contains("html")))
        .chain(alternates);
    for l in html_first {
        if let Some(url) = resolve(&l.href) {
            return Some(url);
        }
    }
    Url::parse(entry_id(entry).0?).ok().filter(is_web)
}

fn pick_enclosure(entry: &Entry, base: &Url) -> Option<Enclosure> {
    let from_links = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"))
        .filter_map(|l| {
            Some(Enclosure {
                url: base.join(&l.href).ok().filter(is_web)?.to_string(),
                mime_type: l.media_type.clone(),
                length: l.length,
            })
        });
    let from_media = entry.media.iter().flat_map(|m| &m.content).filter_map(|c| {
        let url = c.url.as_ref().filter(|u| is_web(u))?;
        Some(Enclosure {
            url: url.to_string(),
            mime_type: c.content_type.as_ref().map(|t| t.to_string()),
            length: c.size,
        })
    });
    from_links.chain(from_media).next()
}

fn is_html(text: &Text) -> bool {
    declares_html(&text.content_type)
}

/// Whether a feed text's media type names HTML (`text/html`,
/// `application/xhtml+xml`, a parameter saying so). Read from the type as
/// feed-rs holds it: its written form has the same names and values, with
/// only `; ` between parameters where the held one may have other spaces,
/// and `html` holds neither `;` nor a space. (Writing it out cost two
/// allocations per text.)
fn declares_html(media_type: &impl AsRef<str>) -> bool {
    media_type.as_ref().contains("html")
}

/// Plain text of a feed `Text`, whatever its declared type. The text is
/// taken, not borrowed: its content is not copied.
fn text_to_plain(text: Text) -> String {
    let s = if is_html(&text) {
        // Titles marked as HTML: keep the words, drop the markup.
        text_only_owned(html_to_text(&text.content))
    } else {
        text_only_owned(text.content)
    };
    collapse_whitespace_owned(s)
}

/// Most rounds of [`text_only`]: markup escaped inside markup
/// (`&lt;script&gt;` in an HTML title) comes out as markup once more.
const TEXT_ONLY_ROUNDS: usize = 4;

/// Text for the fields readers show as titles (item and feed titles,
/// authors, categories, source names): markup reduced to its text.
///
/// Many readers render an RSS `<title>` as HTML (RSS 2.0 never said which
/// it is), so a publisher's `<img src=x onerror=alert(1)> headline`,
/// republished as text, would run there; feedparser sanitises titles too.
/// Only text that holds something tag-like or a character reference goes
/// through the HTML parser, so `a < b`, `5 > 3` and `AT&T` stay as written.
/// A reference left in the text is escaping done twice by the publisher
/// (`Aren&amp;#039;t`, `J&amp;amp;K` in CDATA): it is decoded, as
/// feedparser decodes it, where it would otherwise reach subscribers as
/// `Aren&#039;t`.
pub fn text_only(s: &str) -> String {
    markup_to_text(clean_text(s))
}

/// [`text_only`] of a string no longer needed: clean text (nearly all of
/// it) is returned as it is, without a copy.
fn text_only_owned(s: String) -> String {
    markup_to_text(clean_text_owned(s))
}

/// The markup rounds of [`text_only`], on text already cleaned.
fn markup_to_text(mut text: String) -> String {
    for _ in 0..TEXT_ONLY_ROUNDS {
        let tags = looks_like_markup(&text);
        if !tags && !has_char_ref(&text) {
            return text;
        }
        let plain = clean_text(&html_to_text(&text));
        // A reference-like `&word;` that names nothing stays as it is:
        // nothing more to decode.
        if !tags && plain == text {
            return text;
        }
        text = plain;
    }
    // Still tag-like after several rounds: nested escaping meant to get
    // through. Break every tag opening.
    text.replace('<', "‹")
}

/// True when `s` has a `<` that an HTML tokenizer would read as the start
/// of a tag, comment or declaration.
fn looks_like_markup(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?')))
}

/// True when `s` holds what an HTML parser reads as a character reference
/// ending in `;`: `&name;`, `&#39;`, `&#x2019;`. (HTML also reads a few
/// names without the `;`, `&copy`, but text meant as text holds those:
/// `&copy2` is left alone unless a real reference is there too.)
fn has_char_ref(s: &str) -> bool {
    memchr::memchr_iter(b'&', s.as_bytes()).any(|i| {
        let rest = &s.as_bytes()[i + 1..];
        let (digits, body): (fn(&u8) -> bool, &[u8]) = match rest {
            [b'#', b'x' | b'X', body @ ..] => (u8::is_ascii_hexdigit, body),
            [b'#', body @ ..] => (u8::is_ascii_digit, body),
            [first, ..] if first.is_ascii_alphabetic() => (u8::is_ascii_alphanumeric, rest),
            _ => return false,
        };
        let len = body.iter().take_while(|b| digits(b)).count();
        len > 0 && body.get(len) == Some(&b';')
    })
}

/// Feed text as sanitised HTML. Plain text that holds a character
/// reference (`&#252;`, `&amp;` in a `type="text"` summary whose publisher
/// escaped it twice) has its references decoded, as [`text_only`] decodes
/// them in titles, and only them: a `<b>` in it stays text.
fn text_to_html(text: &str, html: bool, base: &Url) -> String {
    if html {
        sanitize(text, base)
    } else if has_char_ref(text) {
        escape_html(&clean_text(&html_to_text(&text.replace('<', "&lt;"))))
    } else {
        escape_html(&clean_text(text))
    }
}

/// Sanitises HTML with ammonia's allow-list, keeping `dir` and `lang` (Arabic
/// content depends on them) and making relative URLs absolute against `base`.
pub fn sanitize(html: &str, base: &Url) -> String {
    if let Some(text) = markup_free(html).or_else(|| paragraphs(html)) {
        return clean_text_owned(text);
    }
    thread_local! {
        // Building an ammonia allow-list (hash sets of tags, attributes and
        // schemes) cost about a sixth of sanitising a typical entry; one
        // prebuilt per thread is reused, and only the base URL changes per
        // call. Per thread, not a shared static: `url_relative` needs `&mut`.
        static SANITIZER: std::cell::RefCell<ammonia::Builder<'static>> = std::cell::RefCell::new({
            let mut builder = ammonia::Builder::default();
            builder.add_generic_attributes(["dir", "lang"]);
            // Elements whose content HTML reads as raw text, never as
            // markup: were only the tag dropped, as for other elements
            // outside the list, that content would be published as text,
            // markup and all (`<iframe .../></p>`, the `/>` not closing an
            // iframe in HTML, left a `</p>` to read).
            builder.add_clean_content_tags(RAW_TEXT_ELEMENTS);
            builder
        });
    }
    let cleaned = SANITIZER.with_borrow_mut(|builder| {
        builder.url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()));
        let html = unwrap_noscript(html);
        document_html(&builder.clean(&html), html.len())
    });
    clean_text_owned(cleaned)
}

/// The elements [`sanitize`] drops with their content: those whose content
/// html5ever reads as raw text. (`noscript` is one too, ammonia parsing
/// with scripting on; [`unwrap_noscript`] keeps its content instead.)
const RAW_TEXT_ELEMENTS: [&str; 4] = ["iframe", "noembed", "noframes", "xmp"];

/// `html` without its `<noscript>` and `</noscript>` tags. ammonia parses
/// with scripting on, where a `<noscript>`'s content is raw text: a lazy
/// loader's fallback `<noscript><img src=...></noscript>` was published as
/// the characters `<img src=...>`. Unwrapped, the content is parsed and
/// sanitised as any other markup (as feedparser keeps it, and as a
/// browser without script shows it).
fn unwrap_noscript(html: &str) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    // Where each `<noscript` or `</noscript` tag starts and ends.
    let tags = memchr::memchr_iter(b'<', bytes).filter_map(|at| {
        let rest = &bytes[at + 1..];
        let name = rest.strip_prefix(b"/").unwrap_or(rest);
        let named =
            name.len() > 8 && name[..8].eq_ignore_ascii_case(b"noscript") && !name[8].is_ascii_alphanumeric();
        named.then(|| {
            (
                at,
                memchr::memchr(b'>', &bytes[at..]).map_or(bytes.len(), |end| at + end + 1),
            )
        })
    });
    let mut out = String::new();
    let mut copied = 0;
    for (start, end) in tags {
        if start < copied {
            continue;
        }
        out.push_str(&html[copied..start]);
        copied = end;
    }
    if copied == 0 {
        return Cow::Borrowed(html);
    }
    out.push_str(&html[copied..]);
    Cow::Owned(out)
}

/// What ammonia makes of `html` when it holds no markup at all: no tag, no
/// character reference (no `<`, no `&`), and nothing html5ever's input
/// stream rewrites (`\r`, NUL, a leading byte-order mark). Such text comes out as it went in, with
/// `>` and U+00A0 written as references, so it skips the parse and the
/// tree. `None` for anything else.
fn markup_free(html: &str) -> Option<String> {
    // Refused before the output is allocated: most summaries and contents
    // have markup.
    if html.starts_with('\u{feff}') || has_markup(html.as_bytes()) {
        return None;
    }
    let mut out = String::with_capacity(html.len());
    push_markup_free(&mut out, html).then_some(out)
}

/// A byte that [`markup_free`] text cannot hold: `<`, `&`, `\r`, NUL.
fn has_markup(bytes: &[u8]) -> bool {
    memchr::memchr3(b'<', b'&', b'\r', bytes).is_some() || memchr::memchr(0, bytes).is_some()
}

/// Appends `text` to `out` as ammonia writes it if it is markup-free (see
/// [`markup_free`], which also refuses a leading byte-order mark); false,
/// with `out` partly written, if it is not.
fn push_markup_free(out: &mut String, text: &str) -> bool {
    let bytes = text.as_bytes();
    if has_markup(bytes) {
        return false;
    }
    // `>` and U+00A0 (0xC2 0xA0) found by bytes: both are where a
    // character starts, and a search by characters decoded every Arabic
    // letter.
    let mut copied = 0;
    for i in memchr::memchr2_iter(b'>', 0xC2, bytes) {
        let (escape, width) = match bytes[i] {
            b'>' => ("&gt;", 1),
            _ if bytes.get(i + 1) == Some(&0xA0) => ("&nbsp;", 2),
            _ => continue,
        };
        out.push_str(&text[copied..i]);
        out.push_str(escape);
        copied = i + width;
    }
    out.push_str(&text[copied..]);
    true
}

/// The paragraph openings [`paragraphs`] takes, each written exactly as
/// ammonia writes it back (`dir` is one of the attributes it keeps).
const PARAGRAPH_OPENINGS: [&str; 4] = ["<p>", "<p dir=\"rtl\">", "<p dir=\"ltr\">", "<p dir=\"auto\">"];

/// Paragraphs of markup-free text, the usual shape of a summary (one `<p>`)
/// and of much news content (`<p dir="rtl">` after `<p dir="rtl">`, a
/// newline between): what ammonia makes of it is the paragraphs as they
/// are, their text (and the text between them) escaped as [`markup_free`]
/// escapes it, so it skips the parse and the tree too. `None` for anything
/// else: another tag or attribute, an attribute written otherwise (ammonia
/// would rewrite `dir='rtl'` as `dir="rtl"`), a paragraph not closed by
/// `</p>`, or a byte-order mark anywhere (to keep clear of html5ever's
/// treatment of a leading one).
fn paragraphs(html: &str) -> Option<String> {
    if memchr::memmem::find(html.as_bytes(), "\u{feff}".as_bytes()).is_some() {
        return None;
    }
    let mut out = String::with_capacity(html.len() + html.len() / 16);
    let mut rest = html;
    loop {
        // The text before the next tag (usually a newline, or nothing).
        let (text, tag) = rest.split_at(memchr::memchr(b'<', rest.as_bytes()).unwrap_or(rest.len()));
        if !push_markup_free(&mut out, text) {
            return None;
        }
        if tag.is_empty() {
            return Some(out);
        }
        let (opening, inner) = PARAGRAPH_OPENINGS
            .iter()
            .find_map(|opening| Some((*opening, tag.strip_prefix(opening)?)))?;
        // The paragraph's text has no `<`, so its end is the first `<`.
        let end = memchr::memchr(b'<', inner.as_bytes())?;
        rest = inner[end..].strip_prefix("</p>")?;
        out.push_str(opening);
        if !push_markup_free(&mut out, &inner[..end]) {
            return None;
        }
        out.push_str("</p>");
    }
}

/// The HTML of a cleaned document. ammonia's `to_string` serialises into a
/// buffer and then copies it through a formatter; this collects the bytes
/// in the thread's buffer (kept up to [`KEEP_SINK`]), made room for
/// `len_hint` bytes (the input's length), checks them once and copies them
/// out at their size: one allocation per document, where a fresh buffer
/// cost it, its growth and the copy.
pub(crate) fn document_html(document: &ammonia::Document, len_hint: usize) -> String {
    thread_local! {
        static SINK: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    SINK.with_borrow_mut(|buf| {
        let mut sink = TextSink(std::mem::take(buf));
        sink.0.clear();
        sink.0.reserve(len_hint);
        document
            .write_to(&mut sink)
            .expect("writing to a Vec cannot fail");
        let html = sink.finish();
        // A long article's buffer is let go: a thread keeps no more than
        // this between documents.
        if sink.0.capacity() <= KEEP_SINK {
            *buf = sink.0;
        }
        html
    })
}

/// The most a thread's [`document_html`] buffer keeps between documents:
/// a summary's or an ordinary content's HTML; a long article's buffer is
/// let go (see `store::KEEP_PLAIN` for what the buffers cost).
const KEEP_SINK: usize = 16 << 10;

/// html5ever's serialised output, collected as bytes and checked as UTF-8
/// once at the end, with SIMD. html5ever writes many small pieces (a tag
/// name, a quote, the text between two escapes), and checking each piece
/// as it came cost more than the check itself: the whole, then one copy
/// into the `String`, is cheaper. (std's check, which goes a character at a
/// time through Arabic, is what the SIMD check replaces.) A piece may end
/// inside a character (html5ever writes the lead byte of U+0080–U+00BF,
/// `«`, `»`, `©`, alone while it looks for `&nbsp;`): the whole is checked,
/// so that needs no care.
#[derive(Default)]
struct TextSink(Vec<u8>);

impl TextSink {
    fn finish(&self) -> String {
        match simdutf8::basic::from_utf8(&self.0) {
            Ok(text) => text.to_owned(),
            // html5ever writes UTF-8; were that ever to change, the bad
            // bytes become U+FFFD.
            Err(_) => String::from_utf8_lossy(&self.0).into_owned(),
        }
    }
}

impl std::io::Write for TextSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn html_to_text(html: &str) -> String {
    thread_local! {
        static TEXT_ONLY: ammonia::Builder<'static> = ammonia::Builder::empty();
    }
    // ammonia with no tags allowed keeps only text; it re-escapes that text,
    // so unescape the references it writes (`&nbsp;` for U+00A0 too: left,
    // it reached subscribers as the six characters).
    let escaped = TEXT_ONLY.with(|builder| document_html(&builder.clean(html), html.len()));
    // Each `replace` writes a new string: text with no reference (most)
    // is returned as it is.
    if memchr::memchr(b'&', escaped.as_bytes()).is_none() {
        return escaped;
    }
    escaped
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(ch),
        }
    }
    out
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// [`collapse_whitespace`] without a copy for text that has nothing to
/// collapse (single spaces between words, none at the ends): most titles.
fn collapse_whitespace_owned(s: String) -> String {
    let mut after_space = true;
    let collapsed = s.chars().all(|c| {
        let space = c.is_whitespace();
        let fine = !space || (c == ' ' && !after_space);
        after_space = space;
        fine
    });
    if (collapsed && !after_space) || s.is_empty() {
        s
    } else {
        collapse_whitespace(&s)
    }
}

/// Removes characters that XML 1.0 forbids (C0 controls other than tab,
/// newline and carriage return, lone surrogates cannot occur in a `str`, and
/// the non-characters U+FFFE/U+FFFF). Readers reject documents with them.
///
/// C1 controls (U+0080–U+009F) are read as the windows-1252 characters of
/// those bytes (see [`from_c1`]): in feed text they are windows-1252
/// punctuation that a publisher's software converted as if it were
/// Latin-1 (`don\u{92}t` for `don’t`, curly quotes, dashes, `…`), which
/// readers show as nothing or as boxes. feedparser does the same.
///
/// The text is also put in NFC, so that the same Arabic word typed with
/// precomposed or combining hamza is the same bytes for readers and search.
pub fn clean_text(s: &str) -> String {
    cleaned(s).unwrap_or_else(|| s.to_owned())
}

/// [`clean_text`] for an owned string: text that is already clean (nearly
/// all of it) is returned as it is, without a copy.
pub fn clean_text_owned(s: String) -> String {
    cleaned(&s).unwrap_or(s)
}

/// The cleaned text, or `None` when `s` is clean already. The checks run
/// fastest first: text of plain characters (ASCII, Arabic letters, Latin)
/// is always NFC, so one byte scan ([`nfc::scan`]) settles both checks;
/// other text is checked with `is_nfc_quick` (through [`nfc`], which
/// answers the plain characters from a table), which does not allocate.
fn cleaned(s: &str) -> Option<String> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization};
    let legal = |c: &char| {
        matches!(c, '\t' | '\n' | '\r')
            || (*c >= ' ' && !('\u{80}'..='\u{9F}').contains(c) && *c != '\u{FFFE}' && *c != '\u{FFFF}')
    };
    let kept = |c: char| if legal(&c) { Some(c) } else { from_c1(c) };
    let (nfc, clean) = match nfc::scan(s) {
        // Plain characters are NFC, and the only illegal ones are ASCII.
        Some(legal) => (true, legal),
        None => {
            // One pass for both checks: a `Yes` has read every character.
            let mut legal_so_far = true;
            let nfc = nfc::quick_check(s.chars().inspect(|c| legal_so_far &= legal(c))) == IsNormalized::Yes;
            (nfc, nfc && legal_so_far)
        }
    };
    if clean {
        let trimmed = s.trim();
        return (trimmed.len() != s.len()).then(|| trimmed.to_owned());
    }
    let out: String = if nfc {
        s.chars().filter_map(kept).collect()
    } else {
        // A C1 control is a starter, as is what it stands for: mapped after
        // the normalisation, it changes nothing the NFC form depends on.
        s.nfc().filter_map(kept).collect()
    };
    Some(match out.trim() {
        trimmed if trimmed.len() == out.len() => out,
        trimmed => trimmed.to_owned(),
    })
}

/// The windows-1252 character of a C1 control's byte (U+0092 is `’`), as
/// WHATWG's windows-1252 decoder reads it; `None` for the five bytes it
/// leaves undefined (dropped, as controls) and for any other character.
fn from_c1(c: char) -> Option<char> {
    let byte = u8::try_from(u32::from(c))
        .ok()
        .filter(|b| (0x80..=0x9F).contains(b))?;
    let byte = [byte];
    let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
    text.chars().next().filter(|d| *d != c)
}

/// Elements that end a line of text where they start or end: their text
/// is not run into the text beside them (`<p>…downloaded.</p><h3>General`
/// read `downloaded.General`).
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Sanitised HTML with a space before each tag that opens or closes a
/// block ([`BLOCKS`]), so that its text reads as separate words. Only
/// for [`sanitize`]'s output, where every `<` in text is written `&lt;`
/// and every `<` starts a tag.
fn block_breaks(html: &str) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let is_block = |at: usize| {
        let name = &bytes[at + 1..];
        let name = name.strip_prefix(b"/").unwrap_or(name);
        let len = name.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        BLOCKS
            .iter()
            .any(|b| b.as_bytes().eq_ignore_ascii_case(&name[..len]))
    };
    let mut breaks = memchr::memchr_iter(b'<', bytes)
        .filter(|&i| is_block(i))
        .peekable();
    if breaks.peek().is_none() {
        return Cow::Borrowed(html);
    }
    let mut out = String::with_capacity(html.len() + 16);
    let mut copied = 0;
    for i in breaks {
        out.push_str(&html[copied..i]);
        out.push(' ');
        copied = i;
    }
    out.push_str(&html[copied..]);
    Cow::Owned(out)
}

/// Characters of content text used as the summary when the feed has none.
pub const SUMMARY_FROM_CONTENT_CHARS: usize = 300;

/// A summary made from content HTML: its text, cut on a word boundary.
fn summary_from_content(html: &str) -> Option<String> {
    let text = collapse_whitespace(&html_to_text(&block_breaks(html)));
    if text.is_empty() {
        return None;
    }
    if text.chars().count() <= SUMMARY_FROM_CONTENT_CHARS {
        return Some(escape_html(&text));
    }
    let cut_at = text
        .char_indices()
        .nth(SUMMARY_FROM_CONTENT_CHARS)
        .map_or(text.len(), |(i, _)| i);
    let head = &text[..cut_at];
    // Back to the last space, unless that loses most of the text (one
    // enormous word).
    let head = match head.rfind(' ') {
        Some(i) if i > cut_at / 2 => &head[..i],
        _ => head,
    };
    Some(format!("{}…", escape_html(head.trim_end())))
}

/// The items of the Arabic fixtures, Al Jazeera (UTF-8) and Youm7
/// (windows-1256), parsed as the poller parses them: for the unit tests of
/// other stages.
#[cfg(test)]
pub(crate) fn arabic_fixture_items() -> Vec<crate::item::Item> {
    let url = Url::parse("https://arabic.example/feed.xml").unwrap();
    let now = chrono::TimeZone::timestamp_opt(&Utc, 1_780_000_000, 0).unwrap();
    let mut items = Vec::new();
    for doc in [
        &include_bytes!("../../tests/fixtures/aljazeera_rss2.xml")[..],
        &include_bytes!("../../tests/fixtures/youm7_cp1256.xml")[..],
    ] {
        let feed = FeedRef {
            url: &url,
            name: "أخبار",
        };
        let parsed = parse_feed(feed, doc, None, now, Limits::default()).unwrap();
        assert!(!parsed.items.is_empty());
        items.extend(parsed.items);
    }
    items
}

#[cfg(test)]
mod tests {
    use encoding_rs::Encoding;

    use super::*;

    const TITLE: &str = "زيارة صدام حفتر للقاهرة";

    fn doc(decl: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="{decl}"?><rss version="2.0"><channel><title>أخبار</title><item><title>{TITLE}</title><link>http://example.com/a?utm_source=x</link></item></channel></rss>"#
        )
    }

    fn parse(body: &[u8], ct: Option<&str>) -> ParsedFeed {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        parse_feed(
            FeedRef { url: &url, name: "t" },
            body,
            ct,
            Utc::now(),
            Limits::default(),
        )
        .unwrap()
    }

    /// RFC 5005 paging: the next page of an RSS channel (`atom:link`
    /// under any prefix bound to Atom, Blogger's shape), of an Atom feed
    /// (relative, with xml:base), and none where only `self`/`alternate`
    /// or an item's own `next` link are given.
    #[test]
    fn the_next_page_is_read_from_rss_and_atom() {
        let rss = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>مدونة</title>
<link>https://blog.example/</link>
<atom:link rel="self" type="application/rss+xml" href="https://blog.example/feeds/posts/default?alt=rss"/>
<atom:link rel='next' type="application/rss+xml" href="https://blog.example/feeds/posts/default?alt=rss&amp;start-index=26&amp;max-results=25"/>
<item><title>خبر</title><link>https://blog.example/1</link></item></channel></rss>"#;
        let p = parse(rss.as_bytes(), None);
        assert_eq!(
            p.next_page.as_deref(),
            Some("https://blog.example/feeds/posts/default?alt=rss&start-index=26&max-results=25")
        );
        assert_eq!(
            p.site_url.as_deref(),
            Some("https://blog.example/"),
            "next is not the site"
        );
        let prefixed = rss
            .replace("xmlns:atom=", "xmlns:a10=")
            .replace("<atom:link", "<a10:link");
        assert_eq!(parse(prefixed.as_bytes(), None).next_page, p.next_page);

        let atom = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://git.example/org/repo/"><title>الإصدارات</title><id>tag:git.example,2026:repo</id>
<link rel="alternate" href="https://git.example/org/repo"/>
<link rel="NEXT" href="releases.atom?page=2"/>
<entry><id>tag:git.example,2026:1</id><title>الإصدار 1</title><link href="https://git.example/org/repo/1"/><link rel="next" href="https://git.example/entry-next"/></entry></feed>"#;
        assert_eq!(
            parse(atom.as_bytes(), None).next_page.as_deref(),
            Some("https://git.example/org/repo/releases.atom?page=2")
        );
        let without = atom.replace(r#"<link rel="NEXT" href="releases.atom?page=2"/>"#, "");
        assert_eq!(
            parse(without.as_bytes(), None).next_page,
            None,
            "an entry's link is not the feed's"
        );
        let plain = rss.replace("rel='next'", "rel='previous'");
        assert_eq!(parse(plain.as_bytes(), None).next_page, None);
        // A relative href with no xml:base resolves against the feed's
        // URL, as every link of the document does.
        let relative = rss.replace(
            "https://blog.example/feeds/posts/default?alt=rss&amp;start-index=26&amp;max-results=25",
            "?paged=2",
        );
        assert_eq!(
            parse(relative.as_bytes(), None).next_page.as_deref(),
            Some("https://example.com/feed.xml?paged=2")
        );
        assert!(!p.wordpress);
    }

    /// A JSON Feed pages with its top-level `next_url` (absolute, or
    /// relative to the feed's URL); an item's key of that name, a blank
    /// one, or none give no next page.
    #[test]
    fn the_next_page_is_read_from_a_json_feed() {
        let json = |next: &str| {
            format!(
                r#"{{"version": "https://jsonfeed.org/version/1.1", "title": "أخبار",{next}
                "items": [{{"id": "1", "url": "https://news.example/1", "title": "خبر عاجل", "next_url": "https://news.example/item-next"}}]}}"#
            )
        };
        let next = |doc: String| parse(doc.as_bytes(), Some("application/feed+json")).next_page;
        assert_eq!(
            next(json(r#" "next_url": "https://news.example/feed.json?page=2","#)).as_deref(),
            Some("https://news.example/feed.json?page=2")
        );
        assert_eq!(
            next(json(r#" "next_url": "feed.json?page=2","#)).as_deref(),
            Some("https://example.com/feed.json?page=2")
        );
        assert_eq!(next(json(r#" "next_url": "  ","#)), None);
        assert_eq!(next(json("")), None, "an item's key is not the feed's");
    }

    /// WordPress is told by its generator, as RSS (its `?v=` URL) and Atom
    /// (`uri`, or `WordPress` as text) write it.
    #[test]
    fn a_wordpress_document_is_told_by_its_generator() {
        let rss = |g: &str| {
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>موقع</title><link>https://news.example/</link>{g}<item><title>خبر</title><link>https://news.example/1</link></item></channel></rss>"#
            )
        };
        assert!(
            parse(
                rss("<generator>https://wordpress.org/?v=6.8.1</generator>").as_bytes(),
                None
            )
            .wordpress
        );
        assert!(!parse(rss("<generator>Blogger</generator>").as_bytes(), None).wordpress);
        assert!(!parse(rss("").as_bytes(), None).wordpress);
        let atom = r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>موقع</title><id>x</id><generator uri="https://wordpress.org/" version="6.8.1">WordPress</generator><entry><id>1</id><title>خبر</title><link href="https://news.example/1"/></entry></feed>"#;
        assert!(parse(atom.as_bytes(), None).wordpress);
    }

    fn encode(s: &str, enc: &'static Encoding) -> Vec<u8> {
        let (b, _, unmappable) = enc.encode(s);
        assert!(!unmappable);
        b.into_owned()
    }

    /// A summary that is the content's text (`<description>` and
    /// `<content:encoded>` alike) is sanitised once and shared: the result
    /// is what sanitising each would give, in UTF-8 and windows-1256. Text
    /// that differs, or the same text declared plain, is made on its own.
    #[test]
    fn summary_equal_to_content_is_sanitised_once_with_arabic() {
        let html = r#"<p dir="rtl">قال الوزير <a href="/ar/2025/بيان" onclick="x()">بيان</a></p><script>ads()</script>"#;
        let link = Url::parse("https://example.com/ar/2025/خبر").unwrap();
        let expected = sanitize(html, &link);
        assert!(expected.contains("https://example.com/ar/2025/") && !expected.contains("script"));
        let rss = |decl: &str, summary: &str| {
            format!(
                r#"<?xml version="1.0" encoding="{decl}"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>أخبار</title><item><title>{TITLE}</title><link>{link}</link><description><![CDATA[{summary}]]></description><content:encoded><![CDATA[{html}]]></content:encoded></item></channel></rss>"#
            )
        };
        for (decl, enc) in [
            ("UTF-8", encoding_rs::UTF_8),
            ("windows-1256", encoding_rs::WINDOWS_1256),
        ] {
            let same = parse(&encode(&rss(decl, html), enc), None);
            let item = &same.items[0];
            assert_eq!(item.content.as_deref(), Some(expected.as_str()), "{decl}");
            assert_eq!(item.summary.as_deref(), Some(expected.as_str()), "{decl}");

            let other_text = html.replace("قال", "أعلن");
            let other = parse(&encode(&rss(decl, &other_text), enc), None);
            let item = &other.items[0];
            assert_eq!(item.content.as_deref(), Some(expected.as_str()), "{decl}");
            assert_eq!(
                item.summary.as_deref(),
                Some(sanitize(&other_text, &link).as_str()),
                "{decl}"
            );
        }
        // The same text as a plain-text summary is escaped, not sanitised.
        let atom = format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>أخبار</title><entry><title>{TITLE}</title><link href="{link}"/><id>{link}</id><summary type="text">{0}</summary><content type="html">{0}</content></entry></feed>"#,
            html.replace('&', "&amp;").replace('<', "&lt;")
        );
        let item = &parse(atom.as_bytes(), None).items[0];
        assert_eq!(item.content.as_deref(), Some(expected.as_str()));
        assert_eq!(item.summary.as_deref(), Some(escape_html(html).as_str()));
    }

    #[test]
    fn charsets() {
        let w1256 = encoding_rs::WINDOWS_1256;
        let iso6 = encoding_rs::ISO_8859_6;
        let cases: Vec<(&str, Vec<u8>, Option<&str>, &str)> = vec![
            (
                "cp1256 declared",
                encode(&doc("windows-1256"), w1256),
                None,
                "windows-1256",
            ),
            (
                "iso-8859-6 declared",
                encode(&doc("ISO-8859-6"), iso6),
                None,
                "ISO-8859-6",
            ),
            (
                "utf-8 BOM beats a wrong declaration",
                [b"\xEF\xBB\xBF".as_slice(), doc("windows-1256").as_bytes()].concat(),
                None,
                "UTF-8",
            ),
            (
                "HTTP charset beats a wrong declaration",
                encode(&doc("UTF-8"), w1256),
                Some("application/rss+xml; charset=windows-1256"),
                "windows-1256",
            ),
            (
                "HTTP charset with no declaration",
                encode(&doc("x").replace(r#" encoding="x""#, ""), w1256),
                Some("text/xml; charset=\"windows-1256\""),
                "windows-1256",
            ),
            (
                "cp1256 bytes mislabelled UTF-8 fall back",
                encode(&doc("UTF-8"), w1256),
                None,
                "windows-1256",
            ),
            (
                "utf-16 with BOM",
                {
                    let mut v = vec![0xFF, 0xFE];
                    for u in doc("UTF-16").encode_utf16() {
                        v.extend_from_slice(&u.to_le_bytes());
                    }
                    v
                },
                None,
                "UTF-16LE",
            ),
        ];
        let utf32 = |big_endian: bool, bom: bool| {
            let text = doc("UTF-32");
            let mut v = Vec::new();
            for c in bom.then_some('\u{FEFF}').into_iter().chain(text.chars()) {
                let n = c as u32;
                v.extend_from_slice(&if big_endian {
                    n.to_be_bytes()
                } else {
                    n.to_le_bytes()
                });
            }
            v
        };
        let cases = cases.into_iter().chain([
            ("utf-32le with BOM", utf32(false, true), None, "UTF-32LE"),
            ("utf-32be without BOM", utf32(true, false), None, "UTF-32BE"),
        ]);
        for (what, body, ct, charset) in cases {
            let f = parse(&body, ct);
            assert_eq!(f.items.len(), 1, "{what}");
            assert_eq!(f.items[0].title, TITLE, "{what}");
            assert_eq!(f.title.as_deref(), Some("أخبار"), "{what}");
            assert_eq!(f.charset, charset, "{what}");
            assert_eq!(f.items[0].link.as_deref(), Some("http://example.com/a"), "{what}");
        }
    }

    /// Windows-1252 punctuation in text whose bytes were read as C1
    /// controls: an ISO-8859-6 document with windows-1256 quotes and an
    /// ellipsis (0x93, 0x94, 0x85: the same bytes in windows-1256 and
    /// windows-1252; U+0085 is white space to feed-rs, which trims it at
    /// the end of a text), and a UTF-8 one whose CMS converted `’` as Latin-1
    /// (C2 92) in a title and in HTML content. Readers get the punctuation.
    #[test]
    fn c1_controls_are_read_as_windows_1252() {
        let iso6 = [
            encode(
                r#"<?xml version="1.0" encoding="ISO-8859-6"?><rss version="2.0"><channel><title>أخبار</title><item><title>"#,
                encoding_rs::ISO_8859_6,
            ),
            b"\x93".to_vec(),
            encode("الوزير", encoding_rs::ISO_8859_6),
            b"\x94 ".to_vec(),
            encode("يصل", encoding_rs::ISO_8859_6),
            b"\x85".to_vec(),
            encode(
                " اليوم</title><link>http://example.com/a</link></item></channel></rss>",
                encoding_rs::ISO_8859_6,
            ),
        ]
        .concat();
        let f = parse(&iso6, None);
        assert_eq!(f.charset, "ISO-8859-6");
        assert_eq!(f.items[0].title, "“الوزير” يصل… اليوم");
        let utf8 = "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>News</title><item><title>Minister\u{92}s visit</title><link>http://example.com/b</link><content:encoded><![CDATA[<p>It\u{92}s \u{93}done\u{94}</p>]]></content:encoded></item></channel></rss>";
        let item = &parse(utf8.as_bytes(), None).items[0];
        assert_eq!(item.title, "Minister’s visit");
        assert_eq!(item.content.as_deref(), Some("<p>It’s “done”</p>"));
    }

    /// IBM864, the Arabic DOS code page (no browser charset): by its
    /// declaration or the HTTP charset, its presentation forms read as the
    /// letters they show, and byte 0x25 (the Arabic percent sign in the
    /// code page) as `%`, so URL escapes survive. The bytes are what
    /// Python's `cp864` codec (feedparser's) makes of "مصر تعلن" in
    /// isolated forms.
    #[test]
    fn ibm864_reads_as_arabic_letters() {
        let title: &[u8] = b"\xef\xbe\xd1 \xaa\xdf\xfb\xf2";
        let doc = |decl: &str| -> Vec<u8> {
            [
                format!(r#"<?xml version="1.0" encoding="{decl}"?><rss version="2.0"><channel><title>t</title><item><title>"#).as_bytes(),
                title,
                b"</title><link>http://example.com/%D8%B3?q=100%25</link></item></channel></rss>",
            ]
            .concat()
        };
        for (body, ct) in [
            (doc("IBM864"), None),
            (doc("cp864"), None),
            (doc("csibm864"), None),
            (doc("x"), Some("text/xml; charset=ibm864")),
        ] {
            let f = parse(&body, ct);
            assert_eq!(f.charset, "IBM864", "{ct:?}");
            assert_eq!(f.items[0].title, "مصر تعلن", "{ct:?}");
            assert_eq!(
                f.items[0].link.as_deref(),
                Some("http://example.com/%D8%B3?q=100%25"),
                "{ct:?}"
            );
        }
        assert_eq!(super::charset_name("ibm864"), Some("IBM864"));
        assert_eq!(super::charset_name("cspc8codepage437"), Some("IBM437"));
        assert_eq!(super::charset_name("windows_1256"), Some("windows-1256"));
        assert_eq!(super::charset_name("ebcdic-cp-us"), None);
    }

    #[test]
    fn content_is_sanitised_and_absolute() {
        let body = r#"<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>
<item><title>عنوان</title><link>/news/1</link>
<description>&lt;p dir="rtl" onclick="x()"&gt;نص &lt;a href="/more"&gt;المزيد&lt;/a&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</description>
<content:encoded><![CDATA[<div lang="ar"><img src="img/1.jpg"><a href="javascript:alert(1)">x</a>\u{1}</div>]]></content:encoded>
</item></channel></rss>"#;
        let f = parse(body.as_bytes(), None);
        let item = &f.items[0];
        assert_eq!(item.link.as_deref(), Some("https://example.com/news/1"));
        let summary = item.summary.as_deref().unwrap();
        assert!(summary.contains(r#"dir="rtl""#), "{summary}");
        assert!(
            summary.contains(r#"href="https://example.com/more""#),
            "{summary}"
        );
        assert!(
            !summary.contains("onclick") && !summary.contains("script"),
            "{summary}"
        );
        let content = item.content.as_deref().unwrap();
        assert!(content.contains(r#"lang="ar""#), "{content}");
        assert!(
            content.contains(r#"src="https://example.com/news/img/1.jpg""#),
            "{content}"
        );
        assert!(!content.contains("javascript"), "{content}");
    }

    #[test]
    fn latin_legacy_text_is_windows_1252() {
        let body = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Élection à l'Assemblée</title><item><title>Débat télévisé: le président répond</title><link>http://example.com/fr</link></item></channel></rss>";
        let f = parse(&encode(body, encoding_rs::WINDOWS_1252), None);
        assert_eq!(f.charset, "windows-1252");
        assert_eq!(f.items[0].title, "Débat télévisé: le président répond");
    }

    /// Over `max_items`, the newest entries are read whichever way the
    /// document lists them: oldest first (a windows-1256 archive whose new
    /// entry comes last) keeps its last ones.
    #[test]
    fn the_cap_keeps_the_newest_entries() {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let doc = |days: &[u32]| -> Vec<u8> {
            let items: String = days
                .iter()
                .map(|d| {
                    format!(
                        "<item><title>خبر اليوم {d}</title><link>http://example.com/{d}</link><pubDate>{d:02} Nov 2026 10:00:00 GMT</pubDate></item>"
                    )
                })
                .collect();
            encode(
                &format!(
                    r#"<?xml version="1.0" encoding="windows-1256"?><rss version="2.0"><channel><title>أرشيف</title>{items}</channel></rss>"#
                ),
                encoding_rs::WINDOWS_1256,
            )
        };
        let read = |body: &[u8]| -> (Vec<String>, usize) {
            let f = parse_feed(
                FeedRef { url: &url, name: "t" },
                body,
                None,
                Utc::now(),
                Limits {
                    max_items: 2,
                    ..Limits::default()
                },
            )
            .unwrap();
            (f.items.iter().map(|i| i.title.clone()).collect(), f.dropped)
        };
        assert_eq!(
            read(&doc(&[1, 2, 3, 4])),
            (vec!["خبر اليوم 3".to_owned(), "خبر اليوم 4".to_owned()], 2)
        );
        assert_eq!(
            read(&doc(&[4, 3, 2, 1])),
            (vec!["خبر اليوم 4".to_owned(), "خبر اليوم 3".to_owned()], 2)
        );
        // One stray old entry on top of a newest-first list does not turn it.
        assert_eq!(
            read(&doc(&[1, 5, 4, 3])),
            (vec!["خبر اليوم 1".to_owned(), "خبر اليوم 5".to_owned()], 2)
        );
    }

    #[test]
    fn limits_and_refresh_hints() {
        let long_title = "س".repeat(MAX_TITLE_CHARS + 10);
        let items: String = (0..5)
            .map(|i| format!("<item><title>{long_title}</title><link>http://example.com/{i}</link></item>"))
            .collect();
        let body = format!(
            r#"<?xml version="1.0"?><rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>t</title><ttl>30</ttl><sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>{items}</channel></rss>"#
        );
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let f = parse_feed(
            FeedRef { url: &url, name: "t" },
            body.as_bytes(),
            None,
            Utc::now(),
            Limits {
                max_items: 3,
                ..Limits::default()
            },
        )
        .unwrap();
        assert_eq!(f.items.len(), 3);
        assert_eq!(f.dropped, 2);
        assert_eq!(f.items[0].link.as_deref(), Some("http://example.com/0"));
        assert_eq!(f.items[0].title.chars().count(), MAX_TITLE_CHARS);
        assert!(
            f.items[0].title.chars().all(|c| c == 'س'),
            "cut on a character boundary"
        );
        // ttl 30 min beats sy's 2 per hour.
        assert_eq!(f.min_refresh, Some(Duration::from_secs(1800)));
        assert_eq!(
            syndication_period(b"<sy:updatePeriod>daily</sy:updatePeriod>"),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            syndication_period(b"<sy:updatePeriod>sometimes</sy:updatePeriod>"),
            None
        );
    }

    /// Undeclared legacy bytes are detected on evidence: Latin text is not
    /// taken for Arabic, Arabic not for Latin, Cyrillic gets its own.
    #[test]
    fn undeclared_legacy_charsets_are_detected() {
        let rss = |title: &str, item: &str| {
            format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title><item><title>{item}</title><link>http://example.com/1</link></item></channel></rss>")
        };
        for (text, enc, want) in [
            (
                rss("Notícias", "Eleição: votação começa às 8h em São Paulo"),
                encoding_rs::WINDOWS_1252,
                "windows-1252",
            ),
            (
                rss("Nachrichten", "Größere Städte prüfen Maßnahmen für Übergänge"),
                encoding_rs::WINDOWS_1252,
                "windows-1252",
            ),
            (rss("أخبار", TITLE), encoding_rs::WINDOWS_1256, "windows-1256"),
            (rss("أخبار", TITLE), encoding_rs::ISO_8859_6, "ISO-8859-6"),
            (
                rss("Новости", "Правительство обсудило бюджет на следующий год"),
                encoding_rs::WINDOWS_1251,
                "windows-1251",
            ),
        ] {
            let bytes = encode(&text, enc);
            let f = parse(&bytes, None);
            assert_eq!(f.charset, want, "{text}");
            assert!(text.contains(&f.items[0].title), "{}", f.items[0].title);
        }
    }

    #[test]
    fn arabic_pub_date() {
        let body = "<rss version=\"2.0\"><channel><title>t</title><item><title>x</title>\
<link>http://example.com/1</link><pubDate>الأحد، 23 نوفمبر 2025 - 02:30 م</pubDate></item></channel></rss>";
        let f = parse(body.as_bytes(), None);
        let want = DateTime::parse_from_rfc3339("2025-11-23T14:30:00Z")
            .unwrap()
            .timestamp();
        assert_eq!(f.items[0].published, Some(want));
    }

    /// An item with both `<pubDate>` and `<dc:date>` is published at its
    /// pubDate, whichever comes last and whether or not the other reads;
    /// an item dated at a CMS's "no date" placeholder is dated at first
    /// sight, not dropped as older than any retention. In UTF-8 and in
    /// windows-1256, with Arabic dates.
    #[test]
    fn pub_date_wins_over_dc_date_and_placeholders_are_no_date() {
        let items = r#"<item><title>بيان الوزارة</title><link>http://example.com/1</link><pubDate>السبت ٥ ديسمبر ٢٠٢٦ ١٠:٠٠ ص</pubDate><dc:date>2026-12-05T15:42:53Z</dc:date></item><item><title>عاجل</title><link>http://example.com/2</link><pubDate>Sat, 05 Dec 2026 09:00:00 GMT</pubDate><dc:date>1764900000x</dc:date></item><item><title>قديم</title><link>http://example.com/3</link><dc:date>2026-12-05T08:00:00Z</dc:date><pubDate>Sat, 05 Dec 2026 07:00:00 +0000</pubDate></item><item><title>بلا تاريخ</title><link>http://example.com/4</link><pubDate>الخميس ١ يناير ١٩٧٠ ٠٠:٠٠</pubDate></item><item><title>Go</title><link>http://example.com/5</link><pubDate>0001-01-01T00:00:00Z</pubDate><dc:date>2026-12-05T06:00:00Z</dc:date></item>"#;
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        let now = DateTime::parse_from_rfc3339("2026-12-06T03:00:00Z")
            .unwrap()
            .to_utc();
        for (decl, enc) in [
            ("UTF-8", encoding_rs::UTF_8),
            ("windows-1256", encoding_rs::WINDOWS_1256),
        ] {
            // windows-1256 has no Arabic-Indic digits: its outlets write ASCII ones.
            let items: String = if enc == encoding_rs::WINDOWS_1256 {
                items
                    .chars()
                    .map(|c| match c {
                        '\u{660}'..='\u{669}' => char::from(b'0' + (u32::from(c) - 0x660) as u8),
                        c => c,
                    })
                    .collect()
            } else {
                items.to_owned()
            };
            let body = format!(
                r#"<?xml version="1.0" encoding="{decl}"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>أخبار</title>{items}</channel></rss>"#
            );
            let url = Url::parse("https://example.com/feed.xml").unwrap();
            let f = parse_feed(
                FeedRef { url: &url, name: "t" },
                &encode(&body, enc),
                None,
                now,
                Limits::default(),
            )
            .unwrap();
            let got: Vec<(Option<i64>, Option<i64>, i64)> =
                f.items.iter().map(|i| (i.published, i.updated, i.date)).collect();
            let pub1 = t("2026-12-05T10:00:00Z");
            assert_eq!(
                got,
                [
                    (Some(pub1), Some(t("2026-12-05T15:42:53Z")), pub1),
                    // The dc:date that does not read is no date at all.
                    (Some(t("2026-12-05T09:00:00Z")), None, t("2026-12-05T09:00:00Z")),
                    (
                        Some(t("2026-12-05T07:00:00Z")),
                        Some(t("2026-12-05T07:00:00Z")),
                        t("2026-12-05T07:00:00Z")
                    ),
                    (Some(0), Some(0), now.timestamp()),
                    (
                        Some(t("0001-01-01T00:00:00Z")),
                        Some(t("2026-12-05T06:00:00Z")),
                        t("2026-12-05T06:00:00Z")
                    ),
                ],
                "{decl}"
            );
        }
    }

    /// Entries that give their title and text only in Media RSS (YouTube's
    /// `<media:group>`) are read with them; an entry with nothing to
    /// publish is counted, not dropped without a word.
    #[test]
    fn media_text_is_entry_text_and_empty_entries_are_counted() {
        let body = r#"<?xml version="1.0" encoding="windows-1256"?><feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"><title>قناة</title>
<entry><id>yt:video:1</id><media:group><media:title>خطاب الرئيس كاملا</media:title><media:content url="https://example.com/v/1.mp4" type="video/mp4"/><media:description>نص الخطاب</media:description></media:group></entry>
<entry><id>yt:video:2</id><title>عنوان</title><link href="https://example.com/v/2"/><media:group><media:content url="https://example.com/v/2.mp4"/><media:description>وصف الفيديو</media:description></media:group></entry>
<entry></entry>
<entry><title>مقال</title><link href="https://example.com/a"/><summary>ملخص</summary><media:group><media:title>غير هذا</media:title><media:content url="https://example.com/a.jpg"/><media:description>ولا هذا</media:description></media:group></entry>
</feed>"#;
        let f = parse(&encode(body, encoding_rs::WINDOWS_1256), None);
        let got: Vec<(&str, Option<&str>)> = f
            .items
            .iter()
            .map(|i| (i.title.as_str(), i.summary.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("خطاب الرئيس كاملا", Some("نص الخطاب")),
                ("عنوان", Some("وصف الفيديو")),
                ("مقال", Some("ملخص")),
            ]
        );
        assert_eq!((f.empty, f.dropped, f.skipped), (1, 0, 0));
        let capped = parse_feed(
            FeedRef {
                url: &Url::parse("https://example.com/feed.xml").unwrap(),
                name: "t",
            },
            body.as_bytes(),
            None,
            Utc::now(),
            Limits {
                max_items: 2,
                ..Limits::default()
            },
        )
        .unwrap();
        assert_eq!((capped.items.len(), capped.empty, capped.dropped), (2, 0, 2));
    }

    #[test]
    fn summary_made_from_content_and_text_in_nfc() {
        let words = "كلمة ".repeat(100);
        let body = format!(
            "<rss version=\"2.0\"><channel><title>t</title><item><title>\u{0627}\u{0654}\u{0645}\u{0646}</title><link>http://example.com/1</link>\
<content:encoded xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><![CDATA[<p>{words}</p>]]></content:encoded></item></channel></rss>"
        );
        let f = parse(body.as_bytes(), None);
        let item = &f.items[0];
        assert_eq!(item.title, "أمن", "combining hamza composed (NFC)");
        let summary = item.summary.as_deref().unwrap();
        assert!(summary.ends_with("كلمة…"), "cut on a word boundary: {summary}");
        assert!(summary.chars().count() <= SUMMARY_FROM_CONTENT_CHARS + 1);
        assert_eq!(
            summary_from_content("<p>قصير &amp; واضح</p>").as_deref(),
            Some("قصير &amp; واضح")
        );
    }

    /// Each document of these tests in UTF-8 and in windows-1256.
    fn parse_both(doc: &str) -> Vec<ParsedFeed> {
        ["utf-8", "windows-1256"]
            .into_iter()
            .map(|decl| {
                let doc = doc.replace(
                    "<?xml version=\"1.0\"?>",
                    &format!("<?xml version=\"1.0\" encoding=\"{decl}\"?>"),
                );
                let enc = Encoding::for_label(decl.as_bytes()).unwrap();
                parse(&encode(&doc, enc), None)
            })
            .collect()
    }

    /// Titles escaped twice by their publisher (`&amp;#039;`, `&amp;amp;`
    /// inside CDATA, `&amp;nbsp;`) read as feedparser reads them, not with
    /// the references as text; a `&word;` that names nothing, and
    /// ampersands of plain text, stay as written.
    #[test]
    fn titles_escaped_twice_are_read_once_with_arabic() {
        let doc = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>أخبار &amp;amp; تقارير</title>
<item><title>الوزير يقول &amp;quot;لا&amp;quot; &amp;#8211; ويغادر&amp;nbsp;اليوم</title><link>http://example.com/1</link></item>
<item><title><![CDATA[استقالة رئيس التحرير &amp; ترتيبات مؤقتة]]></title><link>http://example.com/2</link></item>
<item><title>شركة AT&amp;T و R&amp;D &amp;foo; كما هي</title><link>http://example.com/3</link></item>
</channel></rss>"#;
        for f in parse_both(doc) {
            let titles: Vec<&str> = f.items.iter().map(|i| i.title.as_str()).collect();
            assert_eq!(
                titles,
                [
                    "الوزير يقول \"لا\" – ويغادر اليوم",
                    "استقالة رئيس التحرير & ترتيبات مؤقتة",
                    "شركة AT&T و R&D &foo; كما هي",
                ],
                "{}",
                f.charset
            );
            assert_eq!(f.title.as_deref(), Some("أخبار & تقارير"));
        }
        assert_eq!(text_only("Aren&#039;t"), "Aren't");
        assert_eq!(text_only("a&nbsp;b"), "a\u{a0}b");
    }

    /// RSS 1.0 descriptions are HTML, as RSS 2.0's: escaped markup is
    /// sanitised, not published as characters (`<i>`, `&mdash;`, a
    /// tracking `<img>`).
    #[test]
    fn rss1_descriptions_are_html_with_arabic() {
        let doc = r#"<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="http://example.com/"><title>أخبار</title><link>http://example.com/</link><description>d</description></channel>
<item rdf:about="http://example.com/1"><title>خبر</title><link>http://example.com/1</link>
<description>قال &lt;i&gt;الوزير&lt;/i&gt; &amp;mdash; اليوم&lt;img src="/pixel?g=1"/&gt;</description></item>
</rdf:RDF>"#;
        for f in parse_both(doc) {
            let summary = f.items[0].summary.as_deref().unwrap();
            assert_eq!(
                summary, "قال <i>الوزير</i> — اليوم<img src=\"http://example.com/pixel?g=1\">",
                "{}",
                f.charset
            );
        }
    }

    /// What HTML reads as raw text inside `<iframe>` (an XHTML-style
    /// `<iframe/>` does not close it) is dropped with it, not published
    /// as text with its markup.
    #[test]
    fn raw_text_elements_leave_no_markup_as_text() {
        let doc = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>مدونة</title><id>x</id>
<entry><id>1</id><title>الفصل الثالث</title><link href="http://example.com/1"/>
<content type="html">&lt;p&gt;حيث بدأت الفكرة.&lt;/p&gt;&lt;p&gt;&lt;iframe src='https://video.example/v' /&gt;&lt;/p&gt;</content></entry></feed>"#;
        for f in parse_both(doc) {
            let item = &f.items[0];
            assert_eq!(
                item.content.as_deref(),
                Some("<p>حيث بدأت الفكرة.</p><p></p>"),
                "{}",
                f.charset
            );
            assert_eq!(item.summary.as_deref(), Some("حيث بدأت الفكرة."), "{}", f.charset);
        }
        let base = Url::parse("https://example.com/").unwrap();
        // A lazy loader's fallback image is an image, not its markup as text.
        assert_eq!(
            sanitize(
                "<p>نص</p><NoScript class=\"x\"><img src=\"/a.jpg\" alt=\"صورة\"></noscript >",
                &base
            ),
            "<p>نص</p><img src=\"https://example.com/a.jpg\" alt=\"صورة\">"
        );
        for tag in RAW_TEXT_ELEMENTS {
            let html = format!("<p>نص</p><{tag}><b>إعلان</b></{tag}>");
            assert_eq!(sanitize(&html, &base), "<p>نص</p>", "{tag}");
        }
    }

    /// A summary made from content keeps its blocks' words apart and
    /// reads a non-breaking space as a space, not as `&nbsp;`.
    #[test]
    fn summary_from_content_keeps_words_apart() {
        let doc = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>مدونة</title><id>x</id>
<entry><id>1</id><title>تحديث</title><link href="http://example.com/1"/>
<content type="html">&lt;p&gt;صدر تحديث جديد.&lt;/p&gt;&lt;h3&gt;عام&lt;/h3&gt;&lt;ul&gt;&lt;li&gt;إصلاح&lt;/li&gt;&lt;li&gt;تحسين&amp;nbsp;&lt;b&gt;الأداء&lt;/b&gt;&lt;/li&gt;&lt;/ul&gt;&amp;nbsp;•&amp;nbsp;</content></entry></feed>"#;
        for f in parse_both(doc) {
            assert_eq!(
                f.items[0].summary.as_deref(),
                Some("صدر تحديث جديد. عام إصلاح تحسين الأداء •"),
                "{}",
                f.charset
            );
        }
    }

    /// A summary declared plain text whose publisher escaped it twice
    /// (`&#252;` inside CDATA) has its references decoded; its `<b>` stays
    /// text, escaped.
    #[test]
    fn plain_summaries_escaped_twice_are_read_once() {
        let doc = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>مدونة</title><id>x</id>
<entry><id>1</id><title>بيان</title><link href="http://example.com/1"/>
<summary type="text"><![CDATA[قال &quot;الوزير&quot; &#1604;&#1575; &amp; <b>نعم</b>]]></summary></entry></feed>"#;
        for f in parse_both(doc) {
            assert_eq!(
                f.items[0].summary.as_deref(),
                Some("قال &quot;الوزير&quot; لا &amp; &lt;b&gt;نعم&lt;/b&gt;"),
                "{}",
                f.charset
            );
        }
    }

    #[test]
    fn xml_text_in_legacy_charset() {
        let opml = "<?xml version=\"1.0\" encoding=\"windows-1256\"?><opml><body><outline text=\"أخبار\"/></body></opml>";
        let text = decode_xml_text(&encode(opml, encoding_rs::WINDOWS_1256));
        assert!(text.contains("text=\"أخبار\""), "{text}");
        assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{text}"
        );
    }

    #[test]
    fn utf16_without_bom_and_label_spellings() {
        let xml = doc("UTF-16");
        let be: Vec<u8> = xml.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        let le: Vec<u8> = xml.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        for (what, body, charset) in [("be", be, "UTF-16BE"), ("le", le, "UTF-16LE")] {
            let f = parse(&body, None);
            assert_eq!(f.items[0].title, TITLE, "{what}");
            assert_eq!(f.charset, charset);
        }
        // A UTF-8 document that claims UTF-16 in an ASCII-readable declaration.
        let f = parse(doc("UTF-16").as_bytes(), None);
        assert_eq!(f.items[0].title, TITLE);
        for label in ["windows_1256", "MS-ARAB", "cp1256"] {
            let f = parse(&encode(&doc(label), encoding_rs::WINDOWS_1256), None);
            assert_eq!(f.charset, "windows-1256", "{label}");
            assert_eq!(f.items[0].title, TITLE, "{label}");
        }
        let cyr = "<?xml version=\"1.0\" encoding=\"windows_1251\"?><rss version=\"2.0\"><channel><title>Новости</title></channel></rss>";
        let f = parse(&encode(cyr, encoding_rs::WINDOWS_1251), None);
        assert_eq!(f.title.as_deref(), Some("Новости"));
        assert_eq!(
            charset_param("text/xml; charset='windows-1256'"),
            Some("windows-1256")
        );
        // An unknown declared charset on UTF-8 bytes is not handed to the XML reader.
        let f = parse(doc("x-unknown").as_bytes(), None);
        assert_eq!(f.items[0].title, TITLE);
    }

    #[test]
    fn stray_bad_byte_in_utf8_loses_only_that_byte() {
        let text = doc("UTF-8");
        let at = text.find("</title>").unwrap();
        let mut body = text.into_bytes();
        body.insert(at, 0xFF);
        let f = parse(&body, Some("application/rss+xml; charset=utf-8"));
        assert_eq!(f.charset, "UTF-8");
        assert_eq!(f.items[0].title, TITLE);
        assert_eq!(f.title.as_deref(), Some("أخبار\u{FFFD}"));
        // Legacy Arabic with no label is still detected.
        let f = parse(
            &encode(
                &doc("x").replace(r#" encoding="x""#, ""),
                encoding_rs::WINDOWS_1256,
            ),
            None,
        );
        assert_eq!(f.charset, "windows-1256");
        assert_eq!(f.items[0].title, TITLE);
    }

    #[test]
    fn known_entries_are_skipped_not_built() {
        let body = doc("UTF-8");
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = FeedRef { url: &url, name: "t" };
        let all = parse_feed_skipping(
            feed,
            body.as_bytes(),
            None,
            Utc::now(),
            Limits::default(),
            &|_| Known::New,
        )
        .unwrap();
        assert_eq!((all.items.len(), all.skipped), (1, 0));
        let key = all.items[0].key.clone();
        let known = parse_feed_skipping(feed, body.as_bytes(), None, Utc::now(), Limits::default(), &|k| {
            if *k == key {
                Known::FromThisFeed {
                    date: None,
                    print: StoredPrint::NotOurs,
                }
            } else {
                Known::New
            }
        })
        .unwrap();
        assert_eq!((known.items.len(), known.skipped), (0, 1));
        // Stored from another feed: not built, a sighting with the stored
        // date and this feed (and the entry's own link) as the source.
        let other = parse_feed_skipping(feed, body.as_bytes(), None, Utc::now(), Limits::default(), &|k| {
            if *k == key {
                Known::Elsewhere { date: 42 }
            } else {
                Known::New
            }
        })
        .unwrap();
        assert_eq!((other.items.len(), other.skipped), (0, 0));
        assert_eq!(
            other.sightings,
            [Sighting {
                key: key.clone(),
                date: 42,
                source: all.items[0].sources[0].clone(),
            }]
        );
    }

    /// An entry's fingerprint, as [`fingerprint`] makes it from feed-rs's
    /// reading of `item` (an RSS `<item>`'s inside).
    fn print_of(item: &str) -> u64 {
        let doc = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><item>{item}</item></channel></rss>"#
        );
        fingerprint(&feed_rs::parser::parse(doc.as_bytes()).unwrap().entries[0])
    }

    #[test]
    fn the_fingerprint_is_the_same_in_every_build_and_tells_the_fields_apart() {
        let item = "<title>زيارة صدام حفتر للقاهرة</title><link>http://e.com/a</link>\
                    <description>&lt;p&gt;نص الخبر&lt;/p&gt;</description><category>سياسة</category>";
        // Persisted beside every item: a value that moved would read every
        // stored entry as revised, then revise nothing (so a change here
        // needs a migration, not a new constant).
        assert_eq!(print_of(item), 0x4005_1e8f_c839_bb20);
        // The link and dates are not the text.
        assert_eq!(
            print_of(&format!(
                "{item}<pubDate>Sat, 22 Nov 2025 10:00:00 +0000</pubDate>"
            )),
            print_of(item)
        );
        let differs = |other: &str| assert_ne!(print_of(other), print_of(item), "{other}");
        differs(&item.replace("حفتر", "حفتر."));
        differs(&item.replace("نص الخبر", "نص الخبر المحدث"));
        differs(&item.replace("سياسة", "اقتصاد"));
        differs(&format!("{item}<author>a@e.com (مراسل)</author>"));
        // The same words moved from the title to the text are a change.
        assert_ne!(
            print_of("<title>a b</title><description>c</description>"),
            print_of("<title>a</title><description>b c</description>")
        );
    }

    #[test]
    fn an_entry_whose_fingerprint_changed_is_built_as_a_revision() {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = FeedRef { url: &url, name: "t" };
        let body = doc("UTF-8");
        let parse = |known: &dyn Fn(&ItemKey) -> Known| {
            parse_feed_skipping(feed, body.as_bytes(), None, Utc::now(), Limits::default(), known).unwrap()
        };
        let new = parse(&|_| Known::New);
        let print = new.items[0]
            .fingerprint
            .expect("a new item carries its fingerprint");
        let known = |print| move |_: &ItemKey| Known::FromThisFeed { date: Some(1), print };
        // The stored fingerprint: skipped unbuilt, as before.
        let same = parse(&known(StoredPrint::Is(print)));
        assert_eq!((same.items.len(), same.revisions.len(), same.skipped), (0, 0, 1));
        // Another fingerprint: built, handed over as a revision (and still
        // counted as known, not new).
        let changed = parse(&known(StoredPrint::Is(print ^ 1)));
        assert_eq!((changed.items.len(), changed.skipped), (0, 1));
        let revision = &changed.revisions[0];
        assert_eq!(
            (revision.print, revision.feed_url.as_str()),
            (print, url.as_str())
        );
        let built = revision.item.as_ref().expect("built");
        assert_eq!(built.title, TITLE);
        assert_eq!(built.key, new.items[0].key);
        // Stored without a fingerprint: only the fingerprint, nothing built.
        let missing = parse(&known(StoredPrint::Missing));
        assert_eq!(missing.revisions[0].item, None);
        assert_eq!(missing.revisions[0].print, print);
        // Another feed's text (or pruned): skipped, nothing to hand over.
        let theirs = parse(&known(StoredPrint::NotOurs));
        assert_eq!((theirs.revisions.len(), theirs.skipped), (0, 1));
    }

    #[test]
    fn only_the_first_entry_of_a_key_in_a_document_revises_it() {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = FeedRef { url: &url, name: "t" };
        // One link and guid twice, with two headlines (a CMS listing a
        // story under two sections with two titles).
        let body = r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
            <item><title>انفجار في المرفأ</title><link>https://e.com/a</link><guid>https://e.com/a</guid></item>
            <item><title>مقتل 70 في انفجار المرفأ</title><link>https://e.com/a</link><guid>https://e.com/a</guid></item>
            </channel></rss>"#;
        let parse = |known: &dyn Fn(&ItemKey) -> Known| {
            parse_feed_skipping(feed, body.as_bytes(), None, Utc::now(), Limits::default(), known).unwrap()
        };
        let new = parse(&|_| Known::New);
        assert_eq!(new.items.len(), 2, "both built; the store keeps the first");
        let first = new.items[0].fingerprint.unwrap();
        let second = new.items[1].fingerprint.unwrap();
        assert_ne!(first, second);
        let stored = |print| {
            move |_: &ItemKey| Known::FromThisFeed {
                date: Some(1),
                print: StoredPrint::Is(print),
            }
        };
        // The first entry's text is stored: the second does not revise it.
        let again = parse(&stored(first));
        assert_eq!((again.revisions.len(), again.skipped), (0, 2));
        // The first entry's text changed: one revision, to the first's text.
        let changed = parse(&stored(second));
        assert_eq!(changed.revisions.len(), 1);
        assert_eq!(changed.revisions[0].print, first);
        assert_eq!(
            changed.revisions[0].item.as_ref().unwrap().title,
            "انفجار في المرفأ"
        );
    }

    #[test]
    fn titles_are_text() {
        for (input, want) in [
            ("<img src=x onerror=alert(1)> headline", "headline"),
            ("a < b", "a < b"),
            ("5 > 3 and 2 < 4", "5 > 3 and 2 < 4"),
            ("AT&T & co", "AT&T & co"),
            (
                "<b>عاجل</b>: <a href=\"javascript:alert(1)\">قمة</a>",
                "عاجل: قمة",
            ),
            ("<script>alert(1)</script>خبر", "خبر"),
            // Markup escaped inside markup comes out as markup once more.
            ("<b>&lt;img src=x onerror=alert(1)&gt;</b>x", "x"),
        ] {
            assert_eq!(text_only(input), want, "{input}");
        }
        let body = r#"<rss version="2.0"><channel><title>&lt;i&gt;قناة&lt;/i&gt;</title><item><title>&lt;img src=x onerror=alert(1)&gt; headline</title><link>http://example.com/1</link><author>&lt;b&gt;Ann&lt;/b&gt;</author><category>&lt;svg onload=alert(1)&gt;سياسة</category></item></channel></rss>"#;
        let f = parse(body.as_bytes(), None);
        assert_eq!(f.title.as_deref(), Some("قناة"));
        assert_eq!(f.items[0].title, "headline");
        assert_eq!(f.items[0].categories, ["سياسة"]);
    }

    /// Entries without a link: a guid is the link (feedparser's rule,
    /// relative ones resolved), and every entry keeps one key from poll to
    /// poll, whatever it lacks.
    #[test]
    fn entries_without_links_are_known_again() {
        let rss = r#"<rss version="2.0"><channel><title>t</title>
<item><guid>/2025/11/a</guid><title>نسبي</title></item>
<item><guid>https://example.com/abs</guid></item>
<item><description>بلا رابط ولا معرف</description></item>
<item><description>خبر آخر بلا رابط</description></item>
<item><title>عنوان فقط</title></item>
<item><link>//cdn.example.org/p</link></item>
<item><enclosure url="https://example.com/a.mp3" type="audio/mpeg" length="1"/><title>حلقة</title></item>
</channel></rss>"#;
        let first = parse(rss.as_bytes(), None);
        let links: Vec<Option<&str>> = first.items.iter().map(|i| i.link.as_deref()).collect();
        assert_eq!(
            links,
            [
                Some("https://example.com/2025/11/a"),
                Some("https://example.com/abs"),
                None,
                None,
                None,
                Some("https://cdn.example.org/p"),
                None,
            ]
        );
        let keys: Vec<&str> = first.items.iter().map(|i| i.key.as_str()).collect();
        // A relative guid keys within its feed; an absolute one as a link.
        assert_eq!(keys[0], "guid://example.com/feed.xml#/2025/11/a");
        assert_eq!(keys[1], "//example.com/abs");
        assert!(
            keys[2].starts_with("guid://example.com/feed.xml#sha256:"),
            "{}",
            keys[2]
        );
        assert_ne!(keys[2], keys[3]);
        let unique: std::collections::BTreeSet<&str> = keys.iter().copied().collect();
        assert_eq!(unique.len(), keys.len(), "{keys:?}");
        for _ in 0..3 {
            let again = parse(rss.as_bytes(), None);
            let again: Vec<&str> = again.items.iter().map(|i| i.key.as_str()).collect();
            assert_eq!(again, keys, "the same document gives the same keys");
        }
        // `isPermaLink="false"`: that item's guid is not a link; the next
        // item's is.
        let f = parse(
            br#"<rss version="2.0"><channel><title>t</title><item><title>x</title><guid isPermaLink="false">123</guid></item><item><title>y</title><guid>124</guid></item></channel></rss>"#,
            None,
        );
        assert_eq!(f.items[0].link, None);
        assert_eq!(f.items[0].key.as_str(), "guid://example.com/feed.xml#123");
        assert_eq!(f.items[1].link.as_deref(), Some("https://example.com/124"));
        // Atom: an id is the link when there is none, as feedparser reads
        // it (relative against the feed's URL); a tag: URI is not.
        let f = parse(
            br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><id>news/1</id><title>a</title></entry>
<entry><id>http://example.com/2</id></entry>
<entry><id>tag:example.com,2025:3</id><title>c</title></entry></feed>"#,
            None,
        );
        let links: Vec<Option<&str>> = f.items.iter().map(|i| i.link.as_deref()).collect();
        assert_eq!(
            links,
            [
                Some("https://example.com/news/1"),
                Some("http://example.com/2"),
                None
            ]
        );
    }

    /// Relative links resolve as feedparser resolves them: against the
    /// xml:base in scope, else the feed's URL; protocol-relative ones take
    /// the feed's scheme.
    #[test]
    fn relative_links_resolve_against_xml_base_and_the_feed() {
        for (body, want) in [
            (
                r#"<rss version="2.0"><channel xml:base="http://base.example/a/"><title>t</title><item><title>a</title><link>b/1</link></item><item xml:base="http://other.example/"><title>b</title><link>c/2</link></item><item><title>c</title><link>//cdn.example/3</link></item></channel></rss>"#,
                // The xml:base's scheme, not the feed's (https).
                [
                    "http://base.example/a/b/1",
                    "http://other.example/c/2",
                    "http://cdn.example/3",
                ],
            ),
            (
                r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://base.example/a/"><title>t</title><entry><title>a</title><link href="b/1"/></entry><entry xml:base="/z/"><title>b</title><link href="c/2"/></entry><entry><title>c</title><link href="/news/3"/></entry></feed>"#,
                [
                    "http://base.example/a/b/1",
                    "http://base.example/z/c/2",
                    "http://base.example/news/3",
                ],
            ),
        ] {
            let f = parse(body.as_bytes(), None);
            let links: Vec<&str> = f.items.iter().filter_map(|i| i.link.as_deref()).collect();
            assert_eq!(links, want, "{body}");
        }
    }

    #[test]
    fn rss_items_linked_in_other_shapes() {
        let body = r#"<?xml version="1.0"?><rss xmlns:a10="http://www.w3.org/2005/Atom" version="2.0"><channel><title>t</title>
<item><title>خبر</title><a10:link href="https://example.com/1" /><a10:updated>2020-05-14T10:00:18Z</a10:updated></item>
<item><title>b</title><link href="/2"/></item>
<item><title>c</title><link>https://example.com/3</link><a10:link href="https://example.com/related" /></item>
</channel></rss>"#;
        let f = parse(body.as_bytes(), None);
        let links: Vec<Option<&str>> = f.items.iter().map(|i| i.link.as_deref()).collect();
        assert_eq!(
            links,
            [
                Some("https://example.com/1"),
                Some("https://example.com/2"),
                Some("https://example.com/3")
            ]
        );
        assert_eq!(f.items[0].title, "خبر");
        assert_eq!(f.repaired, None, "well-formed: nothing repaired");
        // `<comments>` is not the item's page, wherever it comes.
        let body = r#"<rss version="2.0"><channel><title>t</title><item><title>a</title><comments>https://example.com/1#comments</comments><link>https://example.com/1</link></item><item><title>b</title><comments>https://example.com/c</comments><guid isPermaLink="false">https://example.com/2</guid></item></channel></rss>"#;
        let f = parse(body.as_bytes(), None);
        let links: Vec<Option<&str>> = f.items.iter().map(|i| i.link.as_deref()).collect();
        assert_eq!(
            links,
            [Some("https://example.com/1"), Some("https://example.com/2")]
        );
        // RSS 1.0 items known by `rdf:about` alone (feed-rs drops them).
        let body = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><channel rdf:about="https://example.com/"><title>t</title><link>https://example.com/</link></channel><item rdf:about="https://example.com/1"><title>أ</title><link>https://example.com/1</link></item><item rdf:about="https://example.com/2"><title>ب</title></item></rdf:RDF>"#;
        let f = parse(body.as_bytes(), None);
        let links: Vec<Option<&str>> = f.items.iter().map(|i| i.link.as_deref()).collect();
        assert_eq!(
            links,
            [Some("https://example.com/1"), Some("https://example.com/2")]
        );
        // Atom with the link as text, in a mistyped namespace.
        let body = r#"<feed xmlns="http://www.w3.org/2005/atom"><title>t</title><entry><title>عنوان</title><link>https://example.com/a</link><id>tag:x,1</id></entry></feed>"#;
        let f = parse(body.as_bytes(), None);
        assert_eq!(f.items.len(), 1);
        assert_eq!(f.items[0].link.as_deref(), Some("https://example.com/a"));
        assert_eq!(f.items[0].title, "عنوان");
    }

    /// Shapes for which feed-rs rejects the whole document, one entry's
    /// fault: each is mended and said so, and every entry kept.
    #[test]
    fn one_entrys_fault_does_not_cost_the_document() {
        // An RSS document with no channel is an empty feed.
        let f = parse(br#"<rss version="0.92"></rss>"#, None);
        assert_eq!((f.items.len(), f.no_entries.as_deref()), (0, None));
        assert_eq!(f.repaired.as_deref(), Some("no channel"));
        let two = |first: &str| {
            format!(
                r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry>{first}<link href="http://example.com/1"/></entry><entry><title>ب</title><link href="http://example.com/2"/></entry></feed>"#
            )
        };
        for (body, repaired) in [
            (
                two(r#"<title type="text/plain">عنوان</title><summary type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">s</div></summary>"#),
                "2 unknown text types",
            ),
            (two(r#"<title type="">أ</title>"#), "1 unknown text type"),
            (
                two(r#"<title>a &#X41;</title>"#),
                "1 '&#X' reference",
            ),
            (
                r#"<rss><item><title>أ</title><link>http://example.com/1</link></item><item><link>http://example.com/2</link></item></rss>"#.to_owned(),
                "no channel",
            ),
            (
                two(r#"<title>أ</title><summary type="xhtml"/><content type="image/png"></content>"#),
                "2 empty elements ignored",
            ),
            (
                r#"<rss version="2.0" xmlns:m="http://search.yahoo.com/mrss/"><channel><title>t</title><item><title>أ</title><link>http://example.com/1</link><m:title type="text">صورة</m:title></item><item><link>http://example.com/2</link><m:description type="text/html">&lt;b&gt;x&lt;/b&gt;</m:description></item></channel></rss>"#.to_owned(),
                "2 unknown text types",
            ),
        ] {
            let f = parse(body.as_bytes(), None);
            let links: Vec<Option<&str>> = f.items.iter().map(|i| i.link.as_deref()).collect();
            assert_eq!(
                links,
                [Some("http://example.com/1"), Some("http://example.com/2")],
                "{body}"
            );
            assert_eq!(f.repaired.as_deref(), Some(repaired), "{body}");
        }
        let f = parse(two(r#"<title>a &#X41;</title>"#).as_bytes(), None);
        assert_eq!(f.items[0].title, "a A");
    }

    #[test]
    fn control_characters_removed() {
        assert_eq!(clean_text("a\u{1}b\u{0}c\u{FFFF}\td"), "abc\td");
    }

    #[test]
    fn clean_text_fast_paths_keep_the_allocation() {
        // Clean ASCII and clean NFC Arabic come back as the same buffer.
        for clean in ["Plain ASCII headline, 2026", "السلام عليكم ورحمة الله"] {
            let s = clean.to_owned();
            let ptr = s.as_ptr();
            let out = clean_text_owned(s);
            assert_eq!(out, clean);
            assert_eq!(out.as_ptr(), ptr, "{clean:?} was copied");
        }
        // Every slow-path case still gives what the full cleaning gives.
        let cases = [
            // Alef + combining hamza above (U+0627 U+0654) becomes U+0623.
            ("\u{0627}\u{0654}\u{0645}\u{0629}", "\u{0623}\u{0645}\u{0629}"),
            ("  مرحبا \n", "مرحبا"),
            ("  ascii \t", "ascii"),
            ("خبر\u{1}عاجل", "خبرعاجل"),
            ("a\u{7}b", "ab"),
            ("\u{0627}\u{0654}\u{0}", "\u{0623}"),
            ("", ""),
            // C1 controls are windows-1252's characters; its five
            // undefined bytes are dropped.
            ("don\u{92}t", "don’t"),
            ("قال \u{93}الوزير\u{94} \u{96} عاجل\u{85}", "قال “الوزير” – عاجل…"),
            ("a\u{81}b\u{9D}", "ab"),
            ("\u{0627}\u{0654}\u{92}", "\u{0623}’"),
        ];
        for (input, want) in cases {
            assert_eq!(clean_text(input), want, "{input:?}");
            assert_eq!(clean_text_owned(input.to_owned()), want, "{input:?}");
        }
    }

    #[test]
    fn cut_counts_characters_not_bytes() {
        // 5 Arabic letters are 10 bytes: longer than 6 bytes, within 6 characters.
        assert_eq!(cut_borrowed("مرحبا", 6), "مرحبا");
        assert_eq!(cut_borrowed("مرحبا بكم", 5), "مرحبا");
        assert_eq!(cut("abc".into(), 3), "abc");
        assert_eq!(cut("abcd".into(), 3), "abc");
        assert_eq!(cut("مرحبا بكم".into(), 5), "مرحبا");
        assert_eq!(cut_borrowed("", 0), "");
    }

    #[test]
    fn collapsing_keeps_collapsed_text_and_collapses_the_rest() {
        for s in [
            "",
            " ",
            "زيارة صدام حفتر للقاهرة",
            " زيارة  صدام\tحفتر\n",
            "a\u{a0}b",
            "a \u{2003}b",
            "trailing ",
        ] {
            assert_eq!(
                collapse_whitespace_owned(s.to_owned()),
                collapse_whitespace(s),
                "{s:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn collapsing_owned_is_collapsing(s in "[ a\u{a0}\u{2003}\t\nب]{0,12}") {
            proptest::prop_assert_eq!(collapse_whitespace_owned(s.clone()), collapse_whitespace(&s));
        }
    }

    #[test]
    fn shared_sanitizer_rewrites_against_each_calls_base() {
        // The per-thread builder is reused: each call must see its own base.
        let a = Url::parse("https://a.example/news/1").unwrap();
        let b = Url::parse("https://b.example/akhbar/2").unwrap();
        let html = r#"<p dir="rtl"><a href="x.html" onclick="evil()">خبر</a><script>bad()</script></p>"#;
        let first = sanitize(html, &a);
        let second = sanitize(html, &b);
        assert!(first.contains("https://a.example/news/x.html"), "{first}");
        assert!(second.contains("https://b.example/akhbar/x.html"), "{second}");
        for out in [&first, &second] {
            assert!(out.contains(r#"dir="rtl""#) && out.contains("خبر"), "{out}");
            assert!(!out.contains("onclick") && !out.contains("script"), "{out}");
        }
    }

    /// The markup-free path gives what ammonia gives, byte for byte.
    #[test]
    fn markup_free_text_skips_ammonia_with_the_same_result() {
        let base = Url::parse("https://example.com/a/").unwrap();
        let through_ammonia = |html: &str| {
            let mut builder = ammonia::Builder::default();
            builder.add_generic_attributes(["dir", "lang"]);
            builder.url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()));
            clean_text_owned(builder.clean(html).to_string())
        };
        for text in [
            "قال الوزير إن المفاوضات ستستأنف",
            "  leading and trailing  \n",
            "5 > 3, x\u{a0}y «اقتباس» \"quoted\" 'single' = ok",
            "tab\tand\nnewline\u{c}form feed \u{7f}",
            "\u{0627}\u{0654}\u{0645}\u{0629} e\u{301}",
            "",
            ">>>",
        ] {
            assert!(markup_free(text).is_some(), "{text:?}");
            assert_eq!(sanitize(text, &base), through_ammonia(text), "{text:?}");
        }
        for html in ["a &amp; b", "<b>x</b>", "a\r\nb", "a\0b", "x < y"] {
            assert!(markup_free(html).is_none(), "{html:?}");
            assert_eq!(sanitize(html, &base), through_ammonia(html), "{html:?}");
        }
        for html in [
            "<p>قال الوزير إن المفاوضات ستستأنف</p>",
            "<p> 5 > 3\u{a0}«اقتباس» </p>",
            "<p></p>",
            "<p>a</p><p>b</p>",
            "<p dir=\"rtl\">نص</p>",
            "<p dir=\"rtl\">قال الوزير</p>\n<p dir=\"ltr\">The minister said</p>\n",
            "\n<p dir=\"auto\">x\u{a0}> y</p>between<p></p>  ",
            "<p>نص\u{feff}</p>x",
        ] {
            let skipped = paragraphs(html).is_some();
            assert_eq!(skipped, !html.contains('\u{feff}'), "{html:?}");
            assert_eq!(sanitize(html, &base), through_ammonia(html), "{html:?}");
        }
        for html in [
            "<p>a &amp; b</p>",
            "<p dir='rtl'>نص</p>",
            "<p dir=rtl>نص</p>",
            "<p dir=\"rtl\" lang=\"ar\">نص</p>",
            "<p lang=\"ar\">نص</p>",
            "<P>x</P>",
            "<p>\u{feff}x</p>",
            "<p>x",
            "<p>x</p><b>y</b>",
            "<p><p>x</p>",
            "<p>x</P>",
            "<p>x</p >",
            "x</p>",
            "<p>a\r\nb</p>",
        ] {
            assert!(paragraphs(html).is_none(), "{html:?}");
            assert_eq!(sanitize(html, &base), through_ammonia(html), "{html:?}");
        }
        // windows-1256 Arabic paragraphs, through the whole parse: the same
        // HTML as ammonia makes of the decoded text.
        let html = "<p dir=\"rtl\">قال الوزير > نص</p>\n<p dir=\"rtl\">ب</p>";
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"windows-1256\"?><rss version=\"2.0\"><channel><title>t</title><item><title>خبر</title><link>https://example.com/a/1</link><description><![CDATA[{html}]]></description></item></channel></rss>"
        );
        let body = encoding_rs::WINDOWS_1256.encode(&doc).0;
        let parsed = parse_feed(
            FeedRef {
                url: &base,
                name: "n",
            },
            &body,
            None,
            Utc::now(),
            Limits::default(),
        )
        .unwrap();
        assert_eq!(parsed.charset, "windows-1256");
        let want = {
            let mut builder = ammonia::Builder::default();
            builder.add_generic_attributes(["dir", "lang"]);
            builder.url_relative(ammonia::UrlRelative::RewriteWithBase(
                Url::parse("https://example.com/a/1").unwrap(),
            ));
            clean_text_owned(builder.clean(html).to_string())
        };
        assert_eq!(parsed.items[0].summary.as_deref(), Some(want.as_str()));
        assert!(
            want.starts_with("<p dir=\"rtl\">قال الوزير &gt; نص</p>"),
            "{want}"
        );
    }

    proptest::proptest! {
        #[test]
        fn markup_free_matches_ammonia_on_any_text(s in "[^<&\\r\\x00]{0,60}") {
            let base = Url::parse("https://example.com/").unwrap();
            let mut builder = ammonia::Builder::default();
            builder.add_generic_attributes(["dir", "lang"]);
            let want = clean_text_owned(builder.clean(&s).to_string());
            proptest::prop_assert_eq!(sanitize(&s, &base), want);
        }

        #[test]
        fn one_paragraph_matches_ammonia_on_any_text(s in "[^<&\\r\\x00]{0,60}") {
            let base = Url::parse("https://example.com/").unwrap();
            let html = format!("<p>{s}</p>");
            let mut builder = ammonia::Builder::default();
            builder.add_generic_attributes(["dir", "lang"]);
            let want = clean_text_owned(builder.clean(&html).to_string());
            proptest::prop_assert_eq!(sanitize(&html, &base), want);
        }

        /// Paragraphs with and without `dir`, text between them, Arabic,
        /// `>` and no-break spaces: the same bytes as ammonia's.
        #[test]
        fn paragraphs_match_ammonia(parts in proptest::collection::vec(
            ("[ \\n\\tab\\u{a0}>]{0,3}", 0..PARAGRAPH_OPENINGS.len(), "[^<&\\r\\x00]{0,20}|[ابت \\u{a0}>«»]{0,20}"),
            0..5,
        ), tail in "[ \\nx]{0,2}") {
            let base = Url::parse("https://example.com/").unwrap();
            let mut html = String::new();
            for (between, opening, text) in &parts {
                html.push_str(between);
                html.push_str(PARAGRAPH_OPENINGS[*opening]);
                html.push_str(text);
                html.push_str("</p>");
            }
            html.push_str(&tail);
            let mut builder = ammonia::Builder::default();
            builder.add_generic_attributes(["dir", "lang"]);
            let want = clean_text_owned(builder.clean(&html).to_string());
            proptest::prop_assert_eq!(sanitize(&html, &base), want);
        }
    }

    #[test]
    fn text_sink_joins_characters_cut_between_writes() {
        use std::io::Write;
        let text = "«خبر» © €𝒜 a&b";
        let bytes = text.as_bytes();
        // Every way of cutting the text in two, and byte by byte.
        for cut_at in 0..=bytes.len() {
            let mut sink = TextSink::default();
            sink.write_all(&bytes[..cut_at]).unwrap();
            sink.write_all(&bytes[cut_at..]).unwrap();
            assert_eq!(sink.finish(), text, "cut at {cut_at}");
        }
        let mut sink = TextSink::default();
        for b in bytes {
            sink.write_all(std::slice::from_ref(b)).unwrap();
        }
        assert_eq!(sink.finish(), text);
        // Bytes that are not UTF-8 become U+FFFD, as a lossy copy gives.
        for bad in [&b"a\xffb"[..], b"\xe2\x82", b"x\xc2", b"\xc2\xc2\xab"] {
            let mut sink = TextSink::default();
            sink.write_all(bad).unwrap();
            assert_eq!(sink.finish(), String::from_utf8_lossy(bad), "{bad:?}");
        }
        // Through ammonia: html5ever writes the lead byte of `«` alone.
        let base = Url::parse("https://example.com/").unwrap();
        let html = "<p dir=\"rtl\">قال «الوزير»\u{a0}إن ©2026 <b>€</b></p>";
        assert_eq!(
            sanitize(html, &base),
            "<p dir=\"rtl\">قال «الوزير»&nbsp;إن ©2026 <b>€</b></p>"
        );
    }

    #[test]
    fn charset_param_parsing() {
        assert_eq!(
            charset_param("text/xml; Charset=\"windows-1256\""),
            Some("windows-1256")
        );
        assert_eq!(charset_param("text/xml"), None);
    }

    #[test]
    fn not_a_feed() {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let err = parse_feed(
            FeedRef { url: &url, name: "t" },
            b"<html><body>Hello</body></html>",
            Some("text/html"),
            Utc::now(),
            Limits::default(),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("not a feed"), "{err}");
    }

    /// Found by the `parse_feed` fuzz target. An XML declaration that is not
    /// at the start of the document and names another encoding than the one
    /// quick-xml is decoding with makes feed-rs 3.0.0 call quick-xml 0.42's
    /// `set_encoding`, which asserts that it is still reading the first 64
    /// bytes: `parse_feed` panics ("set_encoding() called after prefix
    /// buffer was drained") instead of returning an item list or an error.
    /// Realistic shape: a windows-1256 feed with a stray second declaration
    /// (CMS templates concatenated), or one feedwire transcoded to UTF-8,
    /// where only the first declaration is rewritten. The poller turns the
    /// panic of its blocking task into a failed poll, so the daemon survives,
    /// but the feed never parses.
    #[test]
    fn later_xml_declaration_does_not_panic() {
        let cp1256 = include_bytes!("../../tests/fixtures/youm7_cp1256.xml");
        let stray: Vec<u8> = cp1256
            .split(|&b| b == b'\n')
            .flat_map(|line| {
                let mut l = line.to_vec();
                if l == b"<channel>" {
                    l.extend_from_slice(br#"<?xml version="1.0" encoding="UTF-8"?>"#);
                }
                l.push(b'\n');
                l
            })
            .collect();
        let cases: [(&[u8], Option<&str>); 3] = [
            (&stray, None),
            // Minimised by `cargo fuzz tmin`: legacy bytes (so transcoded)
            // with a UTF-16 declaration after the 64-byte prefix.
            (
                include_bytes!("../../tests/fixtures/fuzz/late_xml_declaration.bin"),
                Some("text/xml; charset=utf-8"),
            ),
            (
                br#"<feed xmlns="http://www.w3.org/2005/Atom"><?xml encoding="latin1"?></feed>"#,
                None,
            ),
        ];
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        for (body, content_type) in cases {
            let _ = parse_feed(
                FeedRef { url: &url, name: "t" },
                body,
                content_type,
                Utc::now(),
                Limits::default(),
            );
        }
    }

    /// What `is_html` was before Run 16: the media type written out.
    fn declares_html_written_out(content: &feed_rs::model::Content) -> bool {
        content.content_type.to_string().contains("html")
    }

    proptest::proptest! {
        /// A media type as feed-rs holds it answers "HTML?" as its written
        /// form does: names and values with `html` in or across them,
        /// suffixes, quoted values, spaces and tabs around `;`.
        #[test]
        fn declares_html_matches_the_written_type(
            ty in "[htmlx]{1,5}",
            subty in "[htmlx.-]{1,6}(\\+[htmlx]{1,5})?",
            params in proptest::collection::vec(
                ("[ \\t]{0,2}", "[ \\t]{0,2}", "[htmlx]{1,5}", "[htmlx]{1,5}|\"[htmlx ;=]{0,6}\""),
                0..3,
            ),
            tail in "[ \\t;]{0,2}",
        ) {
            let mut written = format!("{ty}/{subty}");
            for (before, after, name, value) in &params {
                written.push_str(&format!("{before};{after}{name}={value}"));
            }
            written.push_str(&tail);
            let mut content = feed_rs::model::Content::default();
            if let Ok(media_type) = written.parse() {
                content.content_type = media_type;
                proptest::prop_assert_eq!(
                    declares_html(&content.content_type),
                    declares_html_written_out(&content),
                    "{}", written
                );
            }
        }

        /// Text taken by value comes out as text borrowed and copied did:
        /// Arabic, markup, escaped markup, controls to remove, NFD.
        #[test]
        fn text_only_owned_is_text_only(s in "[ابتة\u{654}\u{627} <>/&;ltgb\u{1}\u{a0}]{0,40}") {
            proptest::prop_assert_eq!(text_only_owned(s.clone()), text_only(&s));
        }

        /// Text with no reference comes back from `html_to_text` as the
        /// replacements left it.
        #[test]
        fn html_to_text_without_references_is_unreplaced(s in "[ابت <>/&;ltgampquo#39b\"']{0,40}") {
            let escaped = TEXT_ONLY_REFERENCE.with(|b| b.clean(&s).to_string());
            let want = escaped
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            proptest::prop_assert_eq!(html_to_text(&s), want);
        }
    }

    thread_local! {
        static TEXT_ONLY_REFERENCE: ammonia::Builder<'static> = ammonia::Builder::empty();
    }

    /// The thread's reused buffer gives what ammonia's own serialisation
    /// gives, whatever the order of sizes (a document after a longer one,
    /// after one past the kept size): the Arabic fixtures' texts, UTF-8 and
    /// windows-1256, sanitised and cleaned again.
    #[test]
    fn document_html_from_the_reused_buffer_is_ammonias() {
        let mut texts = Vec::new();
        for item in super::arabic_fixture_items() {
            texts.extend(item.summary);
            texts.extend(item.content);
            texts.push(format!(
                "<b>{}</b> <img src=\"/a.jpg\"> &amp; «{}»",
                item.title, item.title
            ));
        }
        texts.insert(
            1,
            "<p dir=\"rtl\">نص الخبر، <i>فقرة</i> بعد فقرة.</p>\n".repeat(2 * KEEP_SINK / 70),
        );
        let mut builder = ammonia::Builder::default();
        builder.add_generic_attributes(["dir", "lang"]);
        for text in texts.iter().chain(texts.iter().rev()) {
            let want = builder.clean(text).to_string();
            assert_eq!(document_html(&builder.clean(text), text.len()), want);
            assert_eq!(document_html(&builder.clean(text), 0), want);
        }
    }

    /// A poll's reading of a document, with the retention's bound: the
    /// items, sightings and revisions kept and every count.
    #[derive(Debug, PartialEq)]
    struct Kept {
        items: Vec<Item>,
        sightings: Vec<Sighting>,
        revisions: Vec<Revision>,
        /// skipped, empty, dropped, too_old
        counts: [usize; 4],
        no_entries: Option<String>,
    }

    /// `poller_oldest` given, the old path: the parser built every entry
    /// and the poller dropped the items and sightings dated before the
    /// bound afterwards, counting them.
    fn kept(mut f: ParsedFeed, poller_oldest: Option<i64>) -> Kept {
        let mut too_old = f.too_old;
        if let Some(oldest) = poller_oldest {
            let before = f.items.len() + f.sightings.len();
            f.items.retain(|i| i.date >= oldest);
            f.sightings.retain(|s| s.date >= oldest);
            too_old += before - f.items.len() - f.sightings.len();
        }
        Kept {
            items: f.items,
            sightings: f.sightings,
            revisions: f.revisions,
            counts: [f.skipped, f.empty, f.dropped, too_old],
            no_entries: f.no_entries,
        }
    }

    /// Reads `body` at `now` with a 30-day retention both ways: the
    /// parser told the bound, and (the old path) the parser not told and
    /// the poller's filter after it. Returns the reading, the same both
    /// ways, and the entries each way built.
    fn old_and_new(body: &[u8], max_items: usize, known: &dyn Fn(&ItemKey) -> Known) -> (Kept, usize, usize) {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = FeedRef {
            url: &url,
            name: "أرشيف",
        };
        let now = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let retention = Duration::from_secs(30 * 86_400);
        let oldest = now.timestamp() - 30 * 86_400;
        let limits = |retention| Limits { max_items, retention };
        let read = |limits| parse_feed_skipping(feed, body, None, now, limits, known).unwrap();
        let (old, new) = (read(limits(None)), read(limits(Some(retention))));
        let (old_built, new_built) = (old.built, new.built);
        let new = kept(new, None);
        assert_eq!(kept(old, Some(oldest)), new);
        (new, old_built, new_built)
    }

    /// What the store holds of the entries of [`aged_rss`] whose link ends
    /// in `/seen-old`, `/seen-new`, `/known-old` and `/revised-old`.
    fn aged_known(k: &ItemKey) -> Known {
        let date = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        match k.as_str().rsplit('/').next() {
            Some("seen-old") => Known::Elsewhere {
                date: date("2026-10-01T00:00:00Z"),
            },
            Some("seen-new") => Known::Elsewhere {
                date: date("2026-11-20T00:00:00Z"),
            },
            Some("known-old") => Known::FromThisFeed {
                date: Some(date("2024-05-01T00:00:00Z")),
                print: StoredPrint::NotOurs,
            },
            Some("revised-old") => Known::FromThisFeed {
                date: Some(date("2024-05-02T00:00:00Z")),
                print: StoredPrint::Is(1),
            },
            _ => Known::New,
        }
    }

    /// An archive's RSS document read on 2026-12-01, newest first: every
    /// way an entry's date is decided (pubDate, a later dc:date, a 1970
    /// placeholder, the future, none), old entries with and without a
    /// link or a title, one that sanitises to nothing, stories other feeds
    /// brought (one stored long ago), entries this feed brought and one
    /// it revised (both old), and an old one past `max_items` = 14.
    fn aged_rss(encoding: &str) -> String {
        let item = |inner: &str| format!("<item>{inner}</item>");
        let items = [
            item("<title>خبر جديد عن الانتخابات</title><link>https://example.com/new</link><pubDate>Sun, 29 Nov 2026 10:00:00 GMT</pubDate><description>&lt;p&gt;نص &lt;b&gt;الخبر&lt;/b&gt; الكامل&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description>"),
            item("<title>خبر من المستقبل</title><link>https://example.com/future</link><pubDate>Mon, 01 Feb 2027 10:00:00 GMT</pubDate>"),
            item("<title>خبر نشره نظام بلا تاريخ</title><link>https://example.com/placeholder</link><pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate>"),
            item("<title>خبر غير مؤرخ</title><link>https://example.com/undated</link>"),
            item("<title>أرشيف الوزارة</title><link>https://example.com/old</link><pubDate>Tue, 02 Jan 2024 10:00:00 GMT</pubDate><description>&lt;p&gt;بيان &lt;a href=\"/x?utm_source=rss\"&gt;قديم&lt;/a&gt;&lt;/p&gt;</description>"),
            item("<title>تحديث قديم</title><link>https://example.com/old-updated</link><pubDate>Wed, 01 Jan 2025 10:00:00 GMT</pubDate><dc:date>2026-11-30T06:00:00Z</dc:date>"),
            item("<title>تاريخ نظام ثم تاريخ قديم</title><link>https://example.com/old-dc</link><pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate><dc:date>2025-06-01T00:00:00Z</dc:date>"),
            item("<title>حلقة قديمة بلا رابط</title><guid isPermaLink=\"false\">episode-8</guid><pubDate>Sun, 01 Jan 2023 10:00:00 GMT</pubDate>"),
            item("<guid isPermaLink=\"false\">episode-9</guid><pubDate>Sun, 01 Jan 2023 09:00:00 GMT</pubDate><description>&lt;script&gt;x()&lt;/script&gt;</description>"),
            item("<guid isPermaLink=\"false\">episode-10</guid><pubDate>Sun, 01 Jan 2023 08:00:00 GMT</pubDate><description>&lt;p&gt;نص حلقة قديمة&lt;/p&gt;</description>"),
            item("<title>قصة نقلتها صحيفة أخرى قديما</title><link>https://example.com/seen-old</link><pubDate>Sat, 28 Nov 2026 10:00:00 GMT</pubDate>"),
            item("<title>قصة نقلتها صحيفة أخرى</title><link>https://example.com/seen-new</link><pubDate>Fri, 20 Nov 2026 10:00:00 GMT</pubDate>"),
            item("<title>خبر قديم معروف</title><link>https://example.com/known-old</link><pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate>"),
            item("<title>خبر قديم منقح</title><link>https://example.com/revised-old</link><pubDate>Thu, 02 May 2024 10:00:00 GMT</pubDate>"),
            item("<title>أقدم خبر</title><link>https://example.com/dropped</link><pubDate>Wed, 01 Jan 2020 10:00:00 GMT</pubDate>"),
        ]
        .concat();
        format!(
            r#"<?xml version="1.0" encoding="{encoding}"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>أرشيف</title><link>https://example.com/</link>{items}</channel></rss>"#
        )
    }

    /// Entries dated before the retention's bound are counted as too old
    /// and not built, and the poll reads the document as it did when they
    /// were built and dropped after: the same items (byte for byte),
    /// sightings, revisions and counts, in UTF-8 and windows-1256. Only an
    /// old entry with neither link nor title is built (whether it is empty
    /// is its built text's to say), and a revision whatever its date.
    #[test]
    fn entries_older_than_the_retention_are_not_built() {
        let utf8 = aged_rss("UTF-8");
        let legacy = encode(&aged_rss("windows-1256"), encoding_rs::WINDOWS_1256);
        for body in [utf8.as_bytes(), &legacy[..]] {
            let (kept, old_built, new_built) = old_and_new(body, 14, &aged_known);
            let titles: Vec<&str> = kept.items.iter().map(|i| i.title.as_str()).collect();
            assert_eq!(
                titles,
                [
                    "خبر جديد عن الانتخابات",
                    "خبر من المستقبل",
                    "خبر نشره نظام بلا تاريخ",
                    "خبر غير مؤرخ"
                ]
            );
            assert_eq!(
                kept.items[0].summary.as_deref(),
                Some("<p>نص <b>الخبر</b> الكامل</p>")
            );
            let sighted: Vec<&str> = kept.sightings.iter().map(|s| s.key.as_str()).collect();
            assert_eq!(sighted, ["//example.com/seen-new"]);
            let revised: Vec<&str> = kept.revisions.iter().map(|r| r.key.as_str()).collect();
            assert_eq!(revised, ["//example.com/revised-old"]);
            // skipped (known, revised), empty (episode 9), dropped (the
            // oldest, past max_items before any date is looked at), too
            // old (4 new entries with a link or a title, episode 10 and
            // the sighting of an item stored long ago).
            assert_eq!(kept.counts, [2, 1, 1, 6]);
            assert_eq!(kept.no_entries, None);
            // Built: the 4 items, episode 10 (no link, no title) and the
            // revision; before, the 4 old entries with a link or a title too.
            assert_eq!((old_built, new_built), (10, 6));
        }
    }

    /// A document of old entries only reads as such, not as one whose
    /// entries were not understood; and JSON Feed's dates decide as RSS's
    /// do (`date_published`, else `date_modified`; a placeholder counts as
    /// none).
    #[test]
    fn old_documents_and_json_feed_dates() {
        let old: String = (1..=5)
            .map(|d| {
                format!(
                    "<item><title>خبر أرشيف {d}</title><link>https://example.com/a{d}</link><pubDate>{d:02} Jan 2025 10:00:00 GMT</pubDate></item>"
                )
            })
            .collect();
        let body = encode(
            &format!(
                r#"<?xml version="1.0" encoding="windows-1256"?><rss version="2.0"><channel><title>أرشيف</title>{old}</channel></rss>"#
            ),
            encoding_rs::WINDOWS_1256,
        );
        let (kept, old_built, new_built) = old_and_new(&body, 1000, &|_| Known::New);
        assert!(kept.items.is_empty());
        assert_eq!((kept.counts, kept.no_entries), ([0, 0, 0, 5], None));
        assert_eq!((old_built, new_built), (5, 0));

        let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "أرشيف", "items": [
            {"id": "https://example.com/j1", "url": "https://example.com/j1", "title": "خبر جديد", "date_published": "2026-11-29T10:00:00Z", "content_html": "<p>نص</p>"},
            {"id": "https://example.com/j2", "url": "https://example.com/j2", "title": "خبر قديم", "date_published": "2024-11-29T10:00:00Z", "date_modified": "2026-11-29T10:00:00Z"},
            {"id": "https://example.com/j3", "url": "https://example.com/j3", "title": "تعديل قديم", "date_modified": "2025-11-29T10:00:00Z"},
            {"id": "https://example.com/j4", "url": "https://example.com/j4", "title": "تاريخ نظام", "date_published": "1970-01-01T00:00:00Z", "date_modified": "2026-11-30T10:00:00Z"},
            {"id": "https://example.com/j5", "url": "https://example.com/j5", "title": "تاريخ نظام قديم", "date_published": "1970-01-01T00:00:00Z", "date_modified": "2025-11-30T10:00:00Z"}
        ]}"#;
        let (kept, old_built, new_built) = old_and_new(json.as_bytes(), 1000, &|_| Known::New);
        let titles: Vec<&str> = kept.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["خبر جديد", "تاريخ نظام"]);
        assert_eq!(kept.counts, [0, 0, 0, 3]);
        assert_eq!((old_built, new_built), (5, 2));
    }
}
