//! Which entries of a document their link identifies.
//!
//! Items are keyed on their canonical link ([`ItemKey::from_clean_link`]):
//! the same article reached through three feeds is one item. That rests on
//! a link naming one entry, and real feeds break it in three ways, each of
//! which used to collapse distinct entries into the first one's key (the
//! rest counted as "duplicate", never stored):
//! - **fragments that name the entry**: a blog's day page with one anchor
//!   per post (`2017/06/26.html#a080605`), a single-page app's routes
//!   (`/lede/#s/c710fbd52c`), a live page's updates (`#update-3`). The
//!   canonical link drops fragments, because most are noise (`#comments`,
//!   `#ref=rss`), so all of them met in one key;
//! - **one page for many entries**: every item of a ticker, a capsule or an
//!   aggregator pointing at one section page;
//! - **the site's root, the feed's own page (its channel link) or the feed
//!   itself** as every item's link, met one item at a time across polls,
//!   not only within a document.
//!
//! So, per document: entries whose canonical links coincide are sorted
//! into classes of the *same entry* ([`same_entry`]: an equal guid, an equal
//! title, or for entries without guids nearly the same title). One class is
//! what the link always meant (a feed listing one story twice, a headline
//! rewritten under one URL) and keeps the link as its key. Several classes
//! are several entries: a class whose fragment is its own keeps the
//! fragment in its key and in the link published ([`Keying::Fragment`]);
//! otherwise the class is keyed on its guid within its feed
//! ([`Keying::Entry`]), and the shared link is published as the publisher
//! gave it. Once fragments have told entries apart in a document, every
//! entry of it whose link has a fragment keeps it, so that a day holding
//! one post so far is keyed as it will be when the day holds two. Entries
//! linking to the site's root, the feed's page or the feed are keyed on
//! their guid whatever the document holds.
//!
//! A link that starts being shared changes the keys of its entries. The
//! one the store already holds under the plain link from this feed (stored
//! while the link was its own, or by an older build) keeps it, so that it
//! is not new a second time: it is told by its sort date, and when dates
//! cannot tell (undated entries, whose date is their first sight) by the
//! stored item's record, read once ([`Recall::stored`]: its title, else
//! its dates as the feed gave them).
//!
//! A document alone cannot tell an entry that is the only one on its page
//! *today* from one whose link is its own, so the feed remembers the links
//! it has shared between distinct entries ([`SharedLinks`], in its state:
//! the last [`SharedLinks::MAX`] used, oldest forgotten first), each with
//! the entry holding it by id ([`holder_id`]). An entry later met with such
//! a link is keyed on its id even alone (a section page's ticker showing
//! one item a poll would otherwise store the first and skip every later one
//! as known), unless it is the holder, told by its id. A link whose holder
//! was not listed when the link started being shared is remembered as
//! *held apart*: no entry takes it unless dated as the stored item. The
//! memory only grows from documents that share links, and an entry whose
//! link stops being shared keeps its key while the link is remembered. Two
//! cases still store an entry once more (a duplicate, never a loss): an
//! undated holder that was not listed when its link started being shared
//! (neither its id nor its date can be known), and an entry of a link
//! forgotten (64 other links used since), decided by its document again.
//!
//! The common document has no two entries with one link and its feed
//! remembers none: it costs one sort of its links' strings.

use feed_rs::model::Entry;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{content_digest, entry_id, Known, Recall};
use crate::item::{Item, ItemKey};

/// How one entry is keyed, when not on its canonical link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Keying {
    /// The canonical link: the link is the entry's own.
    Link,
    /// The canonical link with this fragment kept, in the key and in the
    /// link published.
    Fragment(String),
    /// The link names several entries: the key is this id (the guid, else
    /// feed-rs's hash of the link and title, else the content's digest)
    /// within the feed ([`crate::item::ItemKey::for_entry`]).
    Entry(String),
}

/// A link this feed has given to several distinct entries (a section page,
/// a live page), and the entry the store holds under the plain link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedLink {
    /// The link's key (`//host/path`, [`ItemKey::from_clean_link`]).
    pub link: String,
    /// The id of the entry stored under the plain link from this feed
    /// ([`holder_id`]: its guid, else feed-rs's id, else its content's
    /// digest; a long one as its digest), when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// The store holds the plain link from this feed for an entry that was
    /// not told (absent from the document where the link started being
    /// shared, or without an id): no entry takes the link unless its date
    /// is the stored item's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held_apart: bool,
}

/// The links a feed has shared between distinct entries, oldest first, at
/// most [`SharedLinks::MAX`]: kept in the feed's state (`FeedState`), so
/// that an entry met alone with such a link later is still keyed as one of
/// several, and the entry holding the link is told by its id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SharedLinks(Vec<SharedLink>);

impl SharedLinks {
    /// Links remembered per feed. A link is moved to the newest end each
    /// time a document uses it, so only links unused while this many
    /// others were shared are forgotten. Feeds share a few links (a
    /// ticker's section pages, a capsule's page, one page a day): 64 holds
    /// two months of a page a day, past the 30 days items are kept by
    /// default, and bounds the state at a few KiB.
    pub const MAX: usize = 64;

    pub fn new(links: Vec<SharedLink>) -> SharedLinks {
        let mut out = SharedLinks::default();
        out.remember(links);
        out
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn links(&self) -> &[SharedLink] {
        &self.0
    }

    /// What the memory holds for a link's key.
    fn get(&self, key: &str) -> Option<&SharedLink> {
        self.0.iter().find(|s| s.link == key)
    }

    /// Takes what a document showed ([`super::ParsedFeed::shared_links`],
    /// the last the newest): each link goes to the newest end with what the
    /// document told of its holder; beyond [`SharedLinks::MAX`] the oldest
    /// are forgotten.
    pub fn remember(&mut self, seen: Vec<SharedLink>) {
        if seen.is_empty() {
            return;
        }
        self.0.retain(|old| !seen.iter().any(|s| s.link == old.link));
        self.0.extend(seen);
        let over = self.0.len().saturating_sub(SharedLinks::MAX);
        self.0.drain(..over);
    }
}

/// The key part of a clean link ([`ItemKey::from_clean_link`]), without
/// making the key.
fn key_of(l: &Url) -> &str {
    let s = l.as_str();
    s.split_once(':').map_or(s, |(_, rest)| rest)
}

/// Who holds a link's plain key among a document's classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    /// Nobody: the store holds nothing under it from this feed.
    Free,
    /// The class at this position.
    By(usize),
    /// An entry the store holds under it that is none of the classes (or
    /// that could not be told).
    Apart,
}

/// The keying of each entry, or `None` when every entry keeps its link
/// (nearly every document); and the links to remember as shared
/// ([`super::ParsedFeed::shared_links`]). `links[i]` is entry `i`'s
/// canonical link, `fragments[i]` the fragment of the link it gave; `site`
/// is the feed's own web page (the channel's link); `recall` is what the
/// store and the feed's memory hold, `now` the time of this poll.
#[allow(clippy::too_many_arguments)]
pub(super) fn keyings(
    entries: &[Entry],
    links: &[Option<Url>],
    fragments: &[Option<&str>],
    feed_url: &Url,
    site: Option<&Url>,
    recall: &Recall<'_>,
    now: i64,
) -> (Option<Vec<Keying>>, Vec<SharedLink>) {
    let feed_link = crate::item::clean_link(feed_url);
    let site_link = site.map(crate::item::clean_link);
    let no_page = |l: &Url| is_site_root(l) || *l == feed_link || site_link.as_ref() == Some(l);
    let memory = recall.shared;
    // The memory holds a few links, and is empty for nearly every feed.
    let remembered = |l: &Url| match memory.is_empty() {
        true => None,
        false => memory.get(key_of(l)),
    };
    let mut order: Vec<usize> = (0..links.len()).filter(|&i| links[i].is_some()).collect();
    let link = |i: usize| links[i].as_ref().map_or("", Url::as_str);
    order.sort_unstable_by(|&a, &b| link(a).cmp(link(b)));
    let shared = order.windows(2).any(|w| link(w[0]) == link(w[1]));
    if !shared
        && !links
            .iter()
            .flatten()
            .any(|l| no_page(l) || remembered(l).is_some())
    {
        return (None, Vec::new());
    }

    let mut keyings = vec![Keying::Link; links.len()];
    // Links to remember, by the position of their first entry.
    let mut seen: Vec<(usize, SharedLink)> = Vec::new();
    // One-class links with a fragment, keyed on it once fragments have
    // told entries apart somewhere in the document.
    let mut pending = Vec::new();
    // Classes alone with a remembered link, keyed on their id unless
    // fragments name entries in the document.
    let mut pending_or_id: Vec<Vec<usize>> = Vec::new();
    let mut fragments_name_entries = false;
    for group in order.chunk_by(|&a, &b| link(a) == link(b)) {
        let classes = match group {
            [one] => vec![vec![*one]],
            _ => classes(entries, group),
        };
        let link = links[group[0]].as_ref().expect("linked");
        let page = !no_page(link);
        // The site's root, the feed's page and the feed are never an
        // entry's own: they need no memory.
        let memo = if page { remembered(link) } else { None };
        let several = classes.len() > 1;
        let by_id = |rep: usize| entry_key_id(&entries[rep]).map_or(Keying::Link, Keying::Entry);
        let plain_key = || ItemKey::from_clean_link(link);
        // The entry this feed's item under the plain link is (one stored
        // when the link was still its own, or by an older build): it keeps
        // the link, so that it is not new a second time. A remembered link
        // knows its holder by id; a link that starts being shared asks the
        // store (the date, else the stored record).
        let held = match memo {
            Some(SharedLink { holder: Some(id), .. }) => classes
                .iter()
                .position(|c| {
                    c.iter()
                        .any(|&i| holder_id(&entries[i]).as_deref() == Some(id.as_str()))
                })
                .map_or(Held::Apart, Held::By),
            Some(SharedLink { held_apart: true, .. }) => {
                holder(entries, &classes, &plain_key(), recall, now, false)
            }
            Some(_) => Held::Free,
            None if several || !page || fragments[group[0]].is_some() => {
                holder(entries, &classes, &plain_key(), recall, now, page && several)
            }
            None => Held::Free,
        };
        let holder = match held {
            Held::By(n) => Some(n),
            _ => None,
        };
        if let (false, None, [class]) = (several, memo, &classes[..]) {
            let keying = match fragments[class[0]] {
                _ if holder == Some(0) => Keying::Link,
                Some(f) if !page => Keying::Fragment(f.to_owned()),
                Some(_) => {
                    pending.push(class.clone());
                    continue;
                }
                None if !page => by_id(class[0]),
                None => continue,
            };
            for &i in class {
                keyings[i] = keying.clone();
            }
            continue;
        }
        // Several entries, or a link this feed has shared before (an entry
        // alone with it is one of several all the same).
        let own_fragment = |rep: usize| {
            fragments[rep].filter(|f| classes.iter().filter(|c| fragments[c[0]] == Some(*f)).count() == 1)
        };
        let plain = classes.iter().filter(|c| fragments[c[0]].is_none()).count();
        // The class that keeps the plain link.
        let mut linked = None;
        for (n, class) in classes.iter().enumerate() {
            let rep = class[0];
            let keying = match own_fragment(rep) {
                _ if holder == Some(n) => Keying::Link,
                Some(f) if several => {
                    fragments_name_entries = true;
                    Keying::Fragment(f.to_owned())
                }
                // Alone with a remembered link, a fragment names the entry
                // when fragments do elsewhere in the document (a day's page
                // with one post left in the list); else it is not told from
                // noise (`#ref=rss`), and the entry is keyed on its id.
                Some(_) => {
                    pending_or_id.push(class.clone());
                    by_id(rep)
                }
                // The one class without a fragment beside classes with
                // fragments of their own: the page itself (a day's page,
                // a live page), unless an entry holds the link.
                None if several && page && plain == 1 && fragments[rep].is_none() && held == Held::Free => {
                    Keying::Link
                }
                None => by_id(rep),
            };
            if keying == Keying::Link {
                linked = Some(n);
            }
            for &i in class {
                keyings[i] = keying.clone();
            }
        }
        if page {
            // Remembered: the holder by the id it was remembered by, or
            // the class that keeps the link now.
            let holder = match (held, memo) {
                (Held::By(_) | Held::Apart, Some(SharedLink { holder: Some(id), .. })) => Some(id.clone()),
                _ => linked.and_then(|n| classes[n].iter().find_map(|&i| holder_id(&entries[i]))),
            };
            let held_apart = holder.is_none() && (held == Held::Apart || linked.is_some());
            let first = *group.iter().min().expect("a group has entries");
            seen.push((
                first,
                SharedLink {
                    link: key_of(link).to_owned(),
                    holder,
                    held_apart,
                },
            ));
        }
    }
    if fragments_name_entries {
        for class in pending.into_iter().chain(pending_or_id) {
            let f = fragments[class[0]].expect("pending classes have a fragment");
            for i in class {
                keyings[i] = Keying::Fragment(f.to_owned());
            }
        }
    }
    // Documents list their newest entries first: those are remembered last,
    // so that they are the last forgotten.
    seen.sort_unstable_by_key(|&(first, _)| std::cmp::Reverse(first));
    (Some(keyings), seen.into_iter().map(|(_, s)| s).collect())
}

/// Which class (by position) the store holds under `key` from this feed:
/// the one whose entry has the stored item's sort date; when none or
/// several have it and `read` is set (a link that starts being shared),
/// the one the stored record names ([`identify`]).
fn holder(
    entries: &[Entry],
    classes: &[Vec<usize>],
    key: &ItemKey,
    recall: &Recall<'_>,
    now: i64,
    read: bool,
) -> Held {
    let held = match (recall.known)(key) {
        Known::FromThisFeed { date: Some(held), .. } => held,
        // Pruned since: its record is gone, and the key is seen.
        Known::FromThisFeed { date: None, .. } => return Held::Apart,
        _ => return Held::Free,
    };
    let date = |e: &Entry| super::EntryDates::of(e, now).date;
    let mut dated = classes
        .iter()
        .enumerate()
        .filter(|(_, c)| date(&entries[c[0]]) == held);
    match (dated.next(), dated.next()) {
        (Some((n, _)), None) => Held::By(n),
        // Several with that date: the first, unless the record can tell.
        (Some((n, _)), Some(_)) if !read => Held::By(n),
        _ if read => (recall.stored)(key)
            .and_then(|item| identify(entries, classes, &item))
            .map_or(Held::Apart, Held::By),
        _ => Held::Apart,
    }
}

/// Which class a stored item is: the one with its title (titles that read
/// the same are one class), else, for an untitled item, the one with its
/// dates as the feed gave them.
fn identify(entries: &[Entry], classes: &[Vec<usize>], item: &Item) -> Option<usize> {
    let one = |found: &mut dyn Iterator<Item = usize>| match (found.next(), found.next()) {
        (Some(n), None) => Some(n),
        _ => None,
    };
    if !item.title.is_empty() {
        let title = |e: &Entry| {
            e.title
                .clone()
                .map(|t| super::cut(super::text_to_plain(t), super::MAX_TITLE_CHARS))
        };
        return one(&mut (0..classes.len()).filter(|&n| {
            classes[n]
                .iter()
                .any(|&i| title(&entries[i]).as_deref() == Some(item.title.as_str()))
        }));
    }
    if item.published.is_none() && item.updated.is_none() {
        return None;
    }
    let dates = |e: &Entry| {
        (
            e.published.map(|d| d.timestamp()),
            e.updated.map(|d| d.timestamp()),
        )
    };
    one(&mut (0..classes.len()).filter(|&n| {
        classes[n]
            .iter()
            .any(|&i| dates(&entries[i]) == (item.published, item.updated))
    }))
}

/// What a link's holder is remembered by: [`entry_key_id`], a long one as
/// its digest (guids can be whole URLs, or longer).
fn holder_id(entry: &Entry) -> Option<String> {
    const LONGEST: usize = 100;
    let id = entry_key_id(entry)?;
    if id.len() <= LONGEST {
        return Some(id);
    }
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(id.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(format!("sha256:{hex}"))
}

/// `https://example.com/` (any scheme, no path, no query).
fn is_site_root(l: &Url) -> bool {
    matches!(l.path(), "" | "/") && l.query().is_none()
}

/// What an entry whose link is shared is known by: its guid, else (for an
/// entry with a title) feed-rs's id from its link and title, else its
/// content. `None`: nothing at all.
fn entry_key_id(entry: &Entry) -> Option<String> {
    match entry_id(entry) {
        (Some(given), _) if !given.is_empty() => Some(given.to_owned()),
        (_, made_up) if !made_up.is_empty() && has_title(entry) => Some(made_up.to_owned()),
        _ => content_digest(entry),
    }
}

/// The page an entry keyed apart on a shared link names in its guid: an
/// http(s) URL on the shared link's host that is not the shared link
/// itself. The caller checks that the guid is a permalink (RSS, not
/// `isPermaLink="false"`). RSS says such a guid is the item's own URL: a
/// ticker whose `<link>` is its section page and whose guids name each
/// story sends readers to the story, not the section.
pub(super) fn own_guid_link(entry: &Entry, shared: &Url) -> Option<Url> {
    let (Some(guid), _) = entry_id(entry) else {
        return None;
    };
    let url = Url::parse(guid).ok()?;
    let own = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| Some(h) == shared.host_str())
        && crate::item::clean_link(&url) != *shared;
    own.then_some(url)
}

fn has_title(entry: &Entry) -> bool {
    entry.title.as_ref().is_some_and(|t| !t.content.trim().is_empty())
}

/// Sorts one link's entries into classes of the same entry, in document
/// order (each class starts with its first entry). Quadratic in the worst
/// case (every entry its own class): at most `Limits::max_items` entries.
fn classes(entries: &[Entry], group: &[usize]) -> Vec<Vec<usize>> {
    let mut group = group.to_vec();
    group.sort_unstable();
    let words: Vec<Vec<String>> = group.iter().map(|&i| words(&entries[i])).collect();
    // Positions in `group`.
    let mut classes: Vec<Vec<usize>> = Vec::new();
    'entry: for n in 0..group.len() {
        for class in &mut classes {
            let rep = class[0];
            if same_entry(&entries[group[rep]], &entries[group[n]], &words[rep], &words[n]) {
                class.push(n);
                continue 'entry;
            }
        }
        classes.push(vec![n]);
    }
    classes
        .into_iter()
        .map(|class| class.into_iter().map(|n| group[n]).collect())
        .collect()
}

/// Two entries without guids, with one link and titles of half the same
/// words, are one entry rewritten only when dated this close (seconds).
const REWRITE_WINDOW: i64 = 10 * 60;

/// Two entries with one link are one entry listed twice (or rewritten)
/// when their guids are equal, or their titles read the same; entries
/// without guids, when their titles share at least half their words and
/// both are dated within [`REWRITE_WINDOW`] of each other. Merging two
/// entries loses one, keeping a rewrite twice repeats one, so the rewrite
/// needs both kinds of evidence. In the real corpus: a live headline
/// rewritten 13 seconds later under one link ("🔴 South Korean court
/// sentences ex-president Yoon…" / "South Korea court sentences
/// ex-president Yoon…": 10 of 18 words) against a capsule's daily items
/// on one subject ("Débit France" / "Débit France volet II": half, a day
/// apart); templated titles ("خبر رقم 3 عن موضوع 21") share half their
/// words too.
fn same_entry(a: &Entry, b: &Entry, wa: &[String], wb: &[String]) -> bool {
    if wa == wb {
        return true;
    }
    fn given(e: &Entry) -> Option<&str> {
        entry_id(e).0.filter(|id| !id.is_empty())
    }
    match (given(a), given(b)) {
        (Some(x), Some(y)) => x == y,
        _ => {
            let common = wa.iter().filter(|w| wb.binary_search(w).is_ok()).count();
            let union = wa.len() + wb.len() - common;
            let date = |e: &Entry| e.published.or(e.updated).map(|d| d.timestamp());
            let close = match (date(a), date(b)) {
                (Some(x), Some(y)) => (x - y).abs() <= REWRITE_WINDOW,
                _ => false,
            };
            union > 0 && common * 2 >= union && close
        }
    }
}

/// The distinct words (lower case, sorted) of an entry's title, else of
/// its summary or content with markup left out.
fn words(entry: &Entry) -> Vec<String> {
    let text = entry
        .title
        .as_ref()
        .map(|t| t.content.as_str())
        .filter(|t| !t.trim().is_empty())
        .or_else(|| entry.summary.as_ref().map(|t| t.content.as_str()))
        .or_else(|| entry.content.as_ref().and_then(|c| c.body.as_deref()))
        .unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    let mut in_tag = false;
    let mut word = String::new();
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c if c.is_alphanumeric() => word.extend(c.to_lowercase()),
            _ if !word.is_empty() => out.push(std::mem::take(&mut word)),
            _ => {}
        }
        if in_tag && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use url::Url;

    use super::{SharedLink, SharedLinks};
    use crate::item::{Item, ItemKey, StoredPrint};
    use crate::parse::{parse_feed, FeedRef, Known, Limits};

    fn items(doc: &[u8]) -> Vec<Item> {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = FeedRef { url: &url, name: "t" };
        let now = Utc.with_ymd_and_hms(2025, 11, 21, 0, 0, 0).unwrap();
        parse_feed(feed, doc, None, now, Limits::default()).unwrap().items
    }

    fn rss(items: &str) -> Vec<u8> {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>"
        )
        .into_bytes()
    }

    fn keys(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.key.as_str()).collect()
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn a_section_page_for_every_item_keys_them_on_their_guids() {
        // windows-1256, as Arabic publishers serve it.
        let items = items(&fixture("shared_link_section_1256.xml"));
        assert_eq!(items.len(), 3);
        assert_eq!(items[1].title, "عاجل: وزير الخارجية يصل إلى عمّان في زيارة رسمية");
        assert_eq!(
            keys(&items),
            [
                "entry://example.com/feed.xml#ajel-103",
                "entry://example.com/feed.xml#ajel-102",
                "entry://example.com/feed.xml#ajel-101"
            ]
        );
        for item in &items {
            assert_eq!(item.link.as_deref(), Some("https://akhbar.example/ajel"));
            let (id, permalink) = crate::generate::item_id(item);
            assert!(!permalink && id.starts_with("urn:feedwire:entry"), "{id}");
        }
    }

    #[test]
    fn anchors_that_name_posts_stay_in_key_and_link() {
        let items = items(&fixture("shared_link_day_page.xml"));
        // The 19th's page holds one post in this document; it is keyed as
        // it will be once a second post joins it.
        assert_eq!(
            keys(&items),
            [
                "//mudawwana.example/2025/11/20.html#p2",
                "//mudawwana.example/2025/11/20.html#p1",
                "//mudawwana.example/2025/11/19.html#p1"
            ]
        );
        assert_eq!(
            items[0].link.as_deref(),
            Some("https://mudawwana.example/2025/11/20.html#p2")
        );
        assert_eq!(
            crate::generate::item_id(&items[1]).0,
            "https://mudawwana.example/2025/11/20.html#p1"
        );
    }

    #[test]
    fn a_fragment_alone_is_noise() {
        // No two entries told apart by fragments: fragments are dropped, as
        // for every link (`#comments`, `#ref=rss`).
        let items = items(&rss(
            "<item><title>أ</title><link>https://example.com/a#comments</link></item>\
             <item><title>ب</title><link>https://example.com/b#ref=rss</link></item>",
        ));
        assert_eq!(keys(&items), ["//example.com/a", "//example.com/b"]);
        assert_eq!(items[0].link.as_deref(), Some("https://example.com/a"));
    }

    #[test]
    fn one_entry_listed_twice_is_one_item() {
        // An equal guid under a rewritten headline; other guids under one
        // title (BBC lists a story twice, `#0` and `#10`).
        let items = items(&rss(
            "<item><title>الرئيس يصل</title><link>https://example.com/a</link><guid>g1</guid></item>\
             <item><title>الرئيس يصل إلى القاهرة</title><link>https://example.com/a</link><guid>g1</guid></item>\
             <item><title>Scam callers</title><link>https://example.com/b</link><guid>https://example.com/b#0</guid></item>\
             <item><title>Scam callers</title><link>https://example.com/b</link><guid>https://example.com/b#10</guid></item>",
        ));
        assert_eq!(
            keys(&items),
            [
                "//example.com/a",
                "//example.com/a",
                "//example.com/b",
                "//example.com/b"
            ]
        );
    }

    #[test]
    fn entries_without_guids_are_told_apart_by_title_and_time() {
        let doc = |second: &str| {
            rss(&format!(
                "<item><title>🔴 المحكمة تقضي بسجن الرئيس السابق مدى الحياة</title><link>https://example.com/a</link>\
                 <pubDate>Thu, 19 Feb 2026 07:11:49 GMT</pubDate></item>\
                 <item><title>المحكمة تقضي بسجن الرئيس السابق مدى الحياة بتهمة التمرد</title><link>https://example.com/a</link>\
                 <pubDate>{second}</pubDate></item>\
                 <item><title>قمة الرياض</title><link>https://example.com/a</link><pubDate>Mon, 16 Feb 2026 07:00:00 GMT</pubDate></item>"
            ))
        };
        // A headline rewritten 13 s later: one entry; another subject: two.
        let rewritten = items(&doc("Thu, 19 Feb 2026 07:12:02 GMT"));
        let k = keys(&rewritten);
        assert_eq!(k[0], k[1]);
        assert_ne!(k[0], k[2]);
        assert!(
            k.iter().all(|k| k.starts_with("entry://example.com/feed.xml#")),
            "{k:?}"
        );
        // The same words an hour later: a ticker's next item.
        let next_hour = items(&doc("Thu, 19 Feb 2026 08:12:02 GMT"));
        let k = keys(&next_hour);
        assert!(k[0] != k[1] && k[1] != k[2] && k[0] != k[2], "{k:?}");
    }

    #[test]
    fn the_site_root_or_the_feed_is_no_entry_link_even_alone() {
        let items = items(&rss(
            "<item><title>خبر</title><link>https://example.com/</link><guid isPermaLink=\"false\">n-1</guid></item>\
             <item><title>رابط</title><link>https://example.com/feed.xml</link><guid isPermaLink=\"false\">n-2</guid></item>\
             <item><title>تطبيق</title><link>https://example.com/#s/c710</link><guid isPermaLink=\"false\">n-3</guid></item>",
        ));
        assert_eq!(
            keys(&items),
            [
                "entry://example.com/feed.xml#n-1",
                "entry://example.com/feed.xml#n-2",
                "//example.com/#s/c710"
            ]
        );
    }

    #[test]
    fn the_feeds_own_page_is_no_entry_link_even_alone() {
        // A ticker on a section page, one item a poll: the channel's link.
        let doc = |guid: &str, title: &str| {
            format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>عاجل</title>\
                 <link>https://example.com/ar/ajel/</link><item><title>{title}</title>\
                 <link>https://example.com/ar/ajel/</link><guid isPermaLink=\"false\">{guid}</guid></item></channel></rss>"
            )
            .into_bytes()
        };
        let first = items(&doc("a-1", "البرلمان يقر الموازنة"));
        let second = items(&doc("a-2", "استئناف المفاوضات"));
        assert_eq!(keys(&first), ["entry://example.com/feed.xml#a-1"]);
        assert_eq!(keys(&second), ["entry://example.com/feed.xml#a-2"]);
    }

    /// Two items whose `<link>` names one page, each with its own article
    /// in a permalink guid on that host (a section ticker). Each is
    /// keyed and published at its guid (in UTF-8 and windows-1256); a guid
    /// marked `isPermaLink="false"`, or on another host, keeps the entry
    /// key and the publisher's link; an item an older build stored under
    /// its entry key stays there.
    #[test]
    fn an_entry_keyed_apart_takes_its_permalink_guid_as_its_link() {
        let old = "https://brasil.elpais.com/brasil/2020-10-16/dinheiro.html";
        let doc = rss(&format!(
            "<item><title>الأولى</title><link>{old}</link><guid>https://brasil.elpais.com/brasil/2020-10-26/chico.html</guid></item>\
             <item><title>الثانية</title><link>{old}</link><guid>https://brasil.elpais.com/opiniao/2020-10-20/bolsonaro.html?utm_source=rss</guid></item>\
             <item><title>الثالثة</title><link>{old}</link><guid isPermaLink=\"false\">https://brasil.elpais.com/x/3.html</guid></item>\
             <item><title>الرابعة</title><link>{old}</link><guid>https://other.example/4.html</guid></item>"
        ));
        let want_keys = [
            "//brasil.elpais.com/brasil/2020-10-26/chico.html",
            "//brasil.elpais.com/opiniao/2020-10-20/bolsonaro.html",
            "entry://example.com/feed.xml#https://brasil.elpais.com/x/3.html",
            "entry://example.com/feed.xml#https://other.example/4.html",
        ];
        let text = String::from_utf8(doc.clone()).unwrap().replace(
            "<?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\" encoding=\"windows-1256\"?>",
        );
        let (w1256, _, _) = encoding_rs::WINDOWS_1256.encode(&text);
        for doc in [doc.clone(), w1256.into_owned()] {
            let items = items(&doc);
            assert_eq!(keys(&items), want_keys);
            let links: Vec<&str> = items.iter().map(|i| i.link.as_deref().unwrap()).collect();
            assert_eq!(
                links,
                [
                    "https://brasil.elpais.com/brasil/2020-10-26/chico.html",
                    "https://brasil.elpais.com/opiniao/2020-10-20/bolsonaro.html",
                    old,
                    old
                ]
            );
            assert_eq!(items[0].title, "الأولى");
        }
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let now = Utc.with_ymd_and_hms(2025, 11, 21, 0, 0, 0).unwrap();
        let stored = "entry://example.com/feed.xml#https://brasil.elpais.com/brasil/2020-10-26/chico.html";
        let parsed = crate::parse::parse_feed_skipping(
            FeedRef { url: &url, name: "t" },
            &doc,
            None,
            now,
            Limits::default(),
            &|k| match k.as_str() == stored {
                true => Known::FromThisFeed {
                    date: None,
                    print: StoredPrint::NotOurs,
                },
                false => Known::New,
            },
        )
        .unwrap();
        assert_eq!(parsed.skipped, 1);
        assert_eq!(keys(&parsed.items), want_keys[1..]);
    }

    #[test]
    fn a_day_page_beside_its_posts_keeps_its_own_link() {
        let items = items(&rss(
            "<item><title>اليوم</title><link>https://example.com/d.html</link><guid>d</guid></item>\
             <item><title>الأولى</title><link>https://example.com/d.html#a</link><guid>d#a</guid></item>\
             <item><title>الثانية</title><link>https://example.com/d.html#b</link><guid>d#b</guid></item>",
        ));
        assert_eq!(
            keys(&items),
            [
                "//example.com/d.html",
                "//example.com/d.html#a",
                "//example.com/d.html#b"
            ]
        );
    }

    #[test]
    fn the_entry_stored_under_the_link_keeps_it() {
        // The page held one post when it was stored (dated 09:00); now a
        // sponsor's post shares it. The stored one is skipped as known, the
        // new one keyed on its guid.
        let doc = rss(
            "<item><title>[راعٍ] تطبيق</title><link>https://example.com/app</link><guid>s-2</guid>\
             <pubDate>Fri, 21 Nov 2025 09:00:00 GMT</pubDate></item>\
             <item><title>تطبيق خرائط</title><link>https://example.com/app</link><guid>l-1</guid>\
             <pubDate>Thu, 20 Nov 2025 09:00:00 GMT</pubDate></item>",
        );
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = FeedRef { url: &url, name: "t" };
        let now = Utc.with_ymd_and_hms(2025, 11, 22, 0, 0, 0).unwrap();
        let held = Utc.with_ymd_and_hms(2025, 11, 20, 9, 0, 0).unwrap().timestamp();
        let parse_holding = |date: i64| {
            crate::parse::parse_feed_skipping(feed, &doc, None, now, Limits::default(), &|k| match k.as_str()
            {
                "//example.com/app" => Known::FromThisFeed {
                    date: Some(date),
                    print: StoredPrint::NotOurs,
                },
                _ => Known::New,
            })
            .unwrap()
        };
        let parsed = parse_holding(held);
        assert_eq!(parsed.skipped, 1);
        assert_eq!(keys(&parsed.items), ["entry://example.com/feed.xml#s-2"]);
        // Held with another date (an entry no longer listed): both new.
        let parsed = parse_holding(held - 1);
        assert_eq!(parsed.items.len(), 2);
    }

    #[test]
    fn a_post_holding_its_day_page_leaves_the_page_entry_a_key_of_its_own() {
        // An older build stored the 09:00 post under the day page's link;
        // now the page itself is an entry beside its posts. Both must stay
        // apart: the post keeps the link it is stored under, the page takes
        // its guid.
        let doc = rss(
            "<item><title>اليوم</title><link>https://example.com/d.html</link><guid>d</guid>\
             <pubDate>Thu, 20 Nov 2025 23:00:00 GMT</pubDate></item>\
             <item><title>الأولى</title><link>https://example.com/d.html#a</link><guid>d#a</guid>\
             <pubDate>Thu, 20 Nov 2025 09:00:00 GMT</pubDate></item>\
             <item><title>الثانية</title><link>https://example.com/d.html#b</link><guid>d#b</guid>\
             <pubDate>Thu, 20 Nov 2025 10:00:00 GMT</pubDate></item>",
        );
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = FeedRef { url: &url, name: "t" };
        let now = Utc.with_ymd_and_hms(2025, 11, 22, 0, 0, 0).unwrap();
        let held = Utc.with_ymd_and_hms(2025, 11, 20, 9, 0, 0).unwrap().timestamp();
        let parsed = crate::parse::parse_feed_skipping(
            feed,
            &doc,
            None,
            now,
            Limits::default(),
            &|k| match k.as_str() {
                "//example.com/d.html" => Known::FromThisFeed {
                    date: Some(held),
                    print: StoredPrint::NotOurs,
                },
                _ => Known::New,
            },
        )
        .unwrap();
        assert_eq!(parsed.skipped, 1);
        assert_eq!(
            keys(&parsed.items),
            ["entry://example.com/feed.xml#d", "//example.com/d.html#b"]
        );
    }

    /// Parses `doc` as the poller does: `held` is what the store holds
    /// under the section's plain link from this feed (its date and record).
    fn recalling(doc: &[u8], memory: &SharedLinks, held: Option<(i64, &str)>) -> crate::parse::ParsedFeed {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = FeedRef { url: &url, name: "t" };
        let now = Utc.with_ymd_and_hms(2025, 11, 22, 0, 0, 0).unwrap();
        let plain = "//example.com/ajel";
        let known = |k: &ItemKey| match (k.as_str(), held) {
            (key, Some((date, _))) if key == plain => Known::FromThisFeed {
                date: Some(date),
                print: StoredPrint::NotOurs,
            },
            _ => Known::New,
        };
        let reads = std::cell::Cell::new(0);
        let stored = |k: &ItemKey| {
            reads.set(reads.get() + 1);
            let (date, title) = held.filter(|_| k.as_str() == plain)?;
            Some(Item {
                key: k.clone(),
                link: Some("https://example.com/ajel".into()),
                title: title.into(),
                summary: None,
                content: None,
                authors: vec![],
                categories: vec![],
                published: None,
                updated: None,
                first_seen: date,
                date,
                language: None,
                enclosure: None,
                sources: vec![],
                fingerprint: None,
            })
        };
        let recall = crate::parse::Recall {
            known: &known,
            stored: &stored,
            shared: memory,
        };
        let parsed =
            crate::parse::parse_feed_recalling(feed, doc, None, now, Limits::default(), &recall).unwrap();
        // The record is read only when the link starts being shared.
        assert!(reads.get() <= 1, "{} reads", reads.get());
        parsed
    }

    /// A ticker's section page entry (undated unless `date` is given).
    fn ajel(guid: &str, title: &str) -> String {
        format!(
            "<item><title>{title}</title><link>https://example.com/ajel</link>\
             <guid isPermaLink=\"false\">{guid}</guid></item>"
        )
    }

    fn remembered(links: &[(&str, Option<&str>)]) -> SharedLinks {
        SharedLinks::new(
            links
                .iter()
                .map(|(link, holder)| SharedLink {
                    link: (*link).into(),
                    holder: holder.map(str::to_owned),
                    held_apart: false,
                })
                .collect(),
        )
    }

    #[test]
    fn a_section_page_shared_once_keys_an_entry_alone_on_its_guid() {
        // Two entries on the section page: both keyed on their guids, and
        // the page remembered with no entry holding it.
        let first = recalling(
            &rss(&(ajel("a-1", "البرلمان يقر الموازنة") + &ajel("a-2", "استئناف المفاوضات"))),
            &SharedLinks::default(),
            None,
        );
        assert_eq!(
            keys(&first.items),
            [
                "entry://example.com/feed.xml#a-1",
                "entry://example.com/feed.xml#a-2"
            ]
        );
        assert_eq!(
            first.shared_links,
            remembered(&[("//example.com/ajel", None)]).links()
        );
        let mut memory = SharedLinks::default();
        memory.remember(first.shared_links);
        // A later document lists one entry on the page: keyed on its guid
        // too. Without the memory it would take the plain link (stored
        // once, then every later one skipped as known).
        let alone = rss(&ajel("a-3", "الحكومة تعلن خطة لدعم الأجور"));
        let later = recalling(&alone, &memory, None);
        assert_eq!(keys(&later.items), ["entry://example.com/feed.xml#a-3"]);
        assert_eq!(later.shared_links, memory.links());
        assert_eq!(keys(&items(&alone)), ["//example.com/ajel"]);
    }

    #[test]
    fn a_remembered_holder_is_told_by_its_guid() {
        let memory = remembered(&[("//example.com/ajel", Some("a-1"))]);
        // The holder alone, undated (its date is this poll's): it keeps the
        // plain link, under which the store holds it.
        let holder = recalling(
            &rss(&ajel("a-1", "البرلمان يقر الموازنة")),
            &memory,
            Some((1, "x")),
        );
        assert_eq!((holder.items.len(), holder.skipped), (0, 1));
        // Another entry alone: its guid.
        let other = recalling(&rss(&ajel("a-4", "وصول الوفد")), &memory, Some((1, "x")));
        assert_eq!(keys(&other.items), ["entry://example.com/feed.xml#a-4"]);
        assert_eq!(
            other.shared_links,
            memory.links(),
            "the holder is kept while absent"
        );
        // Beside others, the same.
        let both = recalling(
            &rss(&(ajel("a-4", "وصول الوفد") + &ajel("a-1", "البرلمان يقر الموازنة"))),
            &memory,
            Some((1, "x")),
        );
        assert_eq!(
            (keys(&both.items), both.skipped),
            (vec!["entry://example.com/feed.xml#a-4"], 1)
        );
    }

    #[test]
    fn an_undated_holder_is_told_by_its_stored_record_when_the_link_starts_being_shared() {
        // Stored alone, undated, at its first sight (an hour ago); now a
        // second entry joins it. Dates cannot tell (both are dated now):
        // the stored record's title does, and the holder is remembered.
        let doc = rss(&(ajel("a-2", "استئناف المفاوضات") + &ajel("a-1", "البرلمان يقر الموازنة")));
        let an_hour_ago = Utc.with_ymd_and_hms(2025, 11, 21, 23, 0, 0).unwrap().timestamp();
        let parsed = recalling(
            &doc,
            &SharedLinks::default(),
            Some((an_hour_ago, "البرلمان يقر الموازنة")),
        );
        assert_eq!(
            (keys(&parsed.items), parsed.skipped),
            (vec!["entry://example.com/feed.xml#a-2"], 1)
        );
        assert_eq!(
            parsed.shared_links,
            remembered(&[("//example.com/ajel", Some("a-1"))]).links()
        );
        // Without the record, the holder is keyed anew: stored twice.
        let untold = parse_skipping(&doc, an_hour_ago);
        assert_eq!(untold.items.len(), 2);
        // A stored record of neither entry: both keyed on their guids,
        // and the link remembered as held by an entry not listed.
        let apart = recalling(&doc, &SharedLinks::default(), Some((an_hour_ago, "خبر قديم")));
        assert_eq!(apart.items.len(), 2);
        assert!(apart.shared_links[0].held_apart && apart.shared_links[0].holder.is_none());
    }

    fn parse_skipping(doc: &[u8], held: i64) -> crate::parse::ParsedFeed {
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let feed = FeedRef { url: &url, name: "t" };
        let now = Utc.with_ymd_and_hms(2025, 11, 22, 0, 0, 0).unwrap();
        crate::parse::parse_feed_skipping(feed, doc, None, now, Limits::default(), &|k| match k.as_str() {
            "//example.com/ajel" => Known::FromThisFeed {
                date: Some(held),
                print: StoredPrint::NotOurs,
            },
            _ => Known::New,
        })
        .unwrap()
    }

    #[test]
    fn a_link_held_apart_is_taken_only_by_the_entry_of_its_date() {
        let memory = SharedLinks::new(vec![SharedLink {
            link: "//example.com/ajel".into(),
            holder: None,
            held_apart: true,
        }]);
        let dated = |guid: &str, title: &str, date: &str| {
            rss(&format!(
                "<item><title>{title}</title><link>https://example.com/ajel</link>\
                 <guid isPermaLink=\"false\">{guid}</guid><pubDate>{date}</pubDate></item>"
            ))
        };
        let held = Utc.with_ymd_and_hms(2025, 11, 20, 9, 0, 0).unwrap().timestamp();
        let other = recalling(
            &dated("a-5", "خبر آخر", "Fri, 21 Nov 2025 09:00:00 GMT"),
            &memory,
            Some((held, "x")),
        );
        assert_eq!(keys(&other.items), ["entry://example.com/feed.xml#a-5"]);
        assert_eq!(other.shared_links, memory.links());
        let back = recalling(
            &dated("a-0", "الخبر المحفوظ", "Thu, 20 Nov 2025 09:00:00 GMT"),
            &memory,
            Some((held, "x")),
        );
        assert_eq!((back.items.len(), back.skipped), (0, 1));
        assert_eq!(
            back.shared_links,
            remembered(&[("//example.com/ajel", Some("a-0"))]).links(),
            "told by its date, then remembered by its guid"
        );
    }

    #[test]
    fn a_fragment_alone_with_a_remembered_link_is_no_key() {
        // `#ref=rss` on every item of a section page: alone, the entry is
        // keyed on its guid, not on a fragment the next one repeats.
        let memory = remembered(&[("//example.com/ajel", None)]);
        let doc = |guid: &str| {
            rss(&format!(
                "<item><title>{guid}</title><link>https://example.com/ajel#ref=rss</link><guid isPermaLink=\"false\">{guid}</guid></item>"
            ))
        };
        assert_eq!(
            keys(&recalling(&doc("n-1"), &memory, None).items),
            ["entry://example.com/feed.xml#n-1"]
        );
        assert_eq!(
            keys(&recalling(&doc("n-2"), &memory, None).items),
            ["entry://example.com/feed.xml#n-2"]
        );
    }

    #[test]
    fn the_memory_keeps_the_links_last_used() {
        let link = |n: usize| SharedLink {
            link: format!("//example.com/قسم/{n}"),
            holder: Some(format!("g-{n}")),
            held_apart: false,
        };
        let mut memory = SharedLinks::new((0..SharedLinks::MAX).map(link).collect());
        assert_eq!(memory.links().len(), SharedLinks::MAX);
        // Link 0 used again: it moves to the newest end (with its holder as
        // the document told it), and link 1 is the oldest.
        memory.remember(vec![SharedLink {
            holder: None,
            ..link(0)
        }]);
        assert_eq!(memory.links().len(), SharedLinks::MAX);
        assert_eq!(memory.links()[0], link(1));
        assert_eq!(memory.links().last().unwrap().holder, None);
        // New ones push the oldest out.
        memory.remember(vec![link(100), link(101)]);
        assert_eq!(memory.links().len(), SharedLinks::MAX);
        assert_eq!(memory.links()[0], link(3));
        assert_eq!(memory.links().last(), Some(&link(101)));
        // A document with more shared links than the memory holds keeps its
        // first (newest) entries' links.
        let many: String = (0..100)
            .map(|n| {
                ajel(&format!("x-{n}"), "أ").replace("/ajel", &format!("/p/{n}"))
                    + &ajel(&format!("y-{n}"), "ب").replace("/ajel", &format!("/p/{n}"))
            })
            .collect();
        let parsed = recalling(&rss(&many), &SharedLinks::default(), None);
        assert_eq!(parsed.items.len(), 200);
        let mut memory = SharedLinks::default();
        memory.remember(parsed.shared_links);
        assert_eq!(memory.links().len(), SharedLinks::MAX);
        assert_eq!(memory.links().last().unwrap().link, "//example.com/p/0");
        assert_eq!(
            memory.links()[0].link,
            format!("//example.com/p/{}", SharedLinks::MAX - 1)
        );
        // Stored as JSON, as it is in the feed's state; long guids as their digest.
        let text = serde_json::to_string(&memory).unwrap();
        assert_eq!(serde_json::from_str::<SharedLinks>(&text).unwrap(), memory);
        let long = "https://example.com/".to_owned() + &"أ".repeat(200);
        let parsed = recalling(
            &rss(&(ajel(&long, "أ") + &ajel("b", "ب"))),
            &SharedLinks::default(),
            Some((0, "أ")),
        );
        let holder = parsed.shared_links[0].holder.as_deref().unwrap();
        assert!(holder.starts_with("sha256:") && holder.len() == 39, "{holder}");
    }

    #[test]
    fn a_thousand_entries_on_one_page_are_a_thousand_items() {
        let entries: String = (0..1000)
            .map(|n| format!("<item><title>خبر رقم {n} عن موضوع {}</title><link>https://example.com/ajel</link></item>", n * 7))
            .collect();
        let items = items(&rss(&entries));
        let keys: std::collections::BTreeSet<&str> = keys(&items).into_iter().collect();
        assert_eq!(keys.len(), 1000);
    }

    #[test]
    fn a_document_of_own_links_is_left_alone() {
        let doc = rss("<item><title>a</title><link>https://example.com/a</link></item>\
                       <item><title>b</title><link>https://example.com/b#x</link></item>");
        let parsed = feed_rs::parser::parse(&doc[..]).unwrap();
        let url = Url::parse("https://example.com/feed.xml").unwrap();
        let links: Vec<Option<Url>> = parsed
            .entries
            .iter()
            .map(|e| Some(crate::item::clean_link(&Url::parse(&e.links[0].href).unwrap())))
            .collect();
        // Also when the feed remembers links of its own, other than these.
        for memory in [
            SharedLinks::default(),
            remembered(&[("//example.com/ajel", None)]),
        ] {
            let recall = crate::parse::Recall {
                known: &|_| Known::New,
                stored: &|_| None,
                shared: &memory,
            };
            assert_eq!(
                super::keyings(
                    &parsed.entries,
                    &links,
                    &[None, Some("x")],
                    &url,
                    None,
                    &recall,
                    0
                ),
                (None, vec![])
            );
        }
    }
}
