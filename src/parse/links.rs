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
//! The decision is the document's, so a link that starts being shared
//! changes the keys of its entries. The one the store already holds under
//! the plain link from this feed (stored while the link was its own, or by
//! an older build) is recognised by its sort date and keeps the link, so
//! that it is not new a second time; an undated one cannot be told, and
//! may be stored once more (a duplicate, never a loss), as may an entry
//! whose link stops being shared. The common document has no two entries
//! with one link, and costs one sort of its links' strings.

use feed_rs::model::Entry;
use url::Url;

use super::{content_digest, entry_id, Known};
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

/// The keying of each entry, or `None` when every entry keeps its link
/// (nearly every document). `links[i]` is entry `i`'s canonical link,
/// `fragments[i]` the fragment of the link it gave; `site` is the feed's
/// own web page (the channel's link); `known` is what the store holds
/// under a key, `now` the time of this poll.
#[allow(clippy::too_many_arguments)]
pub(super) fn keyings(
    entries: &[Entry],
    links: &[Option<Url>],
    fragments: &[Option<&str>],
    feed_url: &Url,
    site: Option<&Url>,
    known: &dyn Fn(&ItemKey) -> Known,
    now: i64,
) -> Option<Vec<Keying>> {
    let feed_link = crate::item::clean_link(feed_url);
    let site_link = site.map(crate::item::clean_link);
    let no_page = |l: &Url| is_site_root(l) || *l == feed_link || site_link.as_ref() == Some(l);
    let mut order: Vec<usize> = (0..links.len()).filter(|&i| links[i].is_some()).collect();
    let link = |i: usize| links[i].as_ref().map_or("", Url::as_str);
    order.sort_unstable_by(|&a, &b| link(a).cmp(link(b)));
    let shared = order.windows(2).any(|w| link(w[0]) == link(w[1]));
    if !shared && !links.iter().flatten().any(no_page) {
        return None;
    }

    let mut keyings = vec![Keying::Link; links.len()];
    // One-class links with a fragment, keyed on it once fragments have
    // told entries apart somewhere in the document.
    let mut pending = Vec::new();
    let mut fragments_name_entries = false;
    for group in order.chunk_by(|&a, &b| link(a) == link(b)) {
        let classes = match group {
            [one] => vec![vec![*one]],
            _ => classes(entries, group),
        };
        let link = links[group[0]].as_ref().expect("linked");
        let page = !no_page(link);
        let by_id = |rep: usize| entry_key_id(&entries[rep]).map_or(Keying::Link, Keying::Entry);
        // The entry this feed's item under the plain link is (one stored
        // when the link was still its own, or by an older build): it keeps
        // the link, so that it is not new a second time.
        let holder = match classes.len() > 1 || !page || fragments[group[0]].is_some() {
            true => holder(entries, &classes, &ItemKey::from_clean_link(link), known, now),
            false => None,
        };
        if let [class] = &classes[..] {
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
        let own_fragment = |rep: usize| {
            fragments[rep].filter(|f| classes.iter().filter(|c| fragments[c[0]] == Some(*f)).count() == 1)
        };
        let plain = classes.iter().filter(|c| fragments[c[0]].is_none()).count();
        for (n, class) in classes.iter().enumerate() {
            let rep = class[0];
            let keying = match own_fragment(rep) {
                _ if holder == Some(n) => Keying::Link,
                Some(f) => {
                    fragments_name_entries = true;
                    Keying::Fragment(f.to_owned())
                }
                // The one class without a fragment beside classes with
                // fragments of their own: the page itself (a day's page,
                // a live page), unless another class holds the link.
                None if page && plain == 1 && fragments[rep].is_none() && holder.is_none() => Keying::Link,
                None => by_id(rep),
            };
            for &i in class {
                keyings[i] = keying.clone();
            }
        }
    }
    if fragments_name_entries {
        for class in pending {
            let f = fragments[class[0]].expect("pending classes have a fragment");
            for i in class {
                keyings[i] = Keying::Fragment(f.to_owned());
            }
        }
    }
    Some(keyings)
}

/// Which class (by position) the store holds under `key` from this feed:
/// the one whose entry has the stored item's sort date.
fn holder(
    entries: &[Entry],
    classes: &[Vec<usize>],
    key: &ItemKey,
    known: &dyn Fn(&ItemKey) -> Known,
    now: i64,
) -> Option<usize> {
    let Known::FromThisFeed { date: Some(held) } = known(key) else {
        return None;
    };
    let date = |e: &Entry| {
        Item::pick_date(
            e.published.map(|d| d.timestamp()),
            e.updated.map(|d| d.timestamp()),
            now,
        )
    };
    classes.iter().position(|c| date(&entries[c[0]]) == held)
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

    use crate::item::Item;
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
                "//example.com/app" => Known::FromThisFeed { date: Some(date) },
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
                "//example.com/d.html" => Known::FromThisFeed { date: Some(held) },
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
        assert_eq!(
            super::keyings(
                &parsed.entries,
                &links,
                &[None, Some("x")],
                &url,
                None,
                &|_| Known::New,
                0
            ),
            None
        );
    }
}
