//! An entry its feed revises (same link and guid, new headline or text) is
//! revised in the store and in the outputs: two `poll-once` rounds on a
//! local feed server, the outputs rendered from the store after each.

use feedwire::app::{poll_once, render_all};
use feedwire::store::Store;

use crate::support::*;

const BLAST: &str = "انفجار في مرفأ بيروت";
const BLAST_REVISED: &str = "مقتل 70 على الأقل في انفجار مرفأ بيروت";
const CAIRO: &str = "وزير الخارجية يزور القاهرة";
const CAIRO_REVISED: &str = "وزير الخارجية يصل إلى القاهرة في زيارة رسمية";

/// An RSS 2.0 document of (link, title, description) items, as text.
fn rss(encoding: &str, items: &[(&str, &str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(link, title, text)| {
            format!(
                "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
                 <pubDate>Sat, 22 Nov 2025 10:00:00 +0000</pubDate><description><![CDATA[{text}]]></description></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\"?><rss version=\"2.0\"><channel>\
         <title>أخبار</title><link>https://news.example/</link><description>x</description>{items}</channel></rss>"
    )
}

fn utf8_feed(items: &[(&str, &str, &str)]) -> Route {
    Route::feed(rss("utf-8", items).into_bytes(), "application/rss+xml")
}

/// The document in windows-1256 bytes, labelled so in its declaration only.
fn cp1256_feed(items: &[(&str, &str, &str)]) -> Route {
    let text = rss("windows-1256", items);
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1256.encode(&text);
    assert!(!unmappable);
    Route::feed(bytes.into_owned(), "application/rss+xml")
}

/// Titles and texts of an output, as its entries carry them (feed-rs reads
/// RSS and Atom alike): (title, text, published, updated).
fn entries(body: &[u8]) -> Vec<(String, String, Option<i64>, Option<i64>)> {
    let feed = feed_rs::parser::parse(body).unwrap();
    feed.entries
        .into_iter()
        .map(|e| {
            let text = e
                .content
                .and_then(|c| c.body)
                .or(e.summary.map(|s| s.content))
                .unwrap_or_default();
            (
                e.title.map(|t| t.content).unwrap_or_default(),
                text,
                e.published.map(|d| d.timestamp()),
                e.updated.map(|d| d.timestamp()),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arabic_headlines_revised_in_utf8_and_windows_1256_are_revised_in_both_outputs() {
    let server = FeedServer::start().await;
    let (blast, cairo, other) = (
        "https://news.example/lebanon/port",
        "https://akhbar.example/cairo",
        "https://news.example/other",
    );
    let a = server.route(
        "/a.xml",
        utf8_feed(&[(blast, BLAST, "خبر عاجل"), (other, "خبر آخر", "نص آخر")]),
    );
    let b = server.route(
        "/b.xml",
        cp1256_feed(&[(cairo, CAIRO, "<p>يزور الوزير القاهرة</p>")]),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new()
        .feed("أخبار", &a)
        .feed("اليوم", &b)
        .load(dir.path());
    let first = poll_once(&config).await.unwrap();
    assert_eq!((first.totals.items_new, first.totals.items_revised), (3, 0));
    let store_path = config.storage.path.clone();
    let before = {
        let store = Store::open(&store_path).unwrap();
        render_all(&config, &store).unwrap()
    };

    // The publishers rewrite a headline and its text (UTF-8), and a
    // headline in windows-1256; the other entry stays as it was.
    server.set(
        "/a.xml",
        utf8_feed(&[
            (blast, BLAST_REVISED, "<p>ارتفع عدد القتلى إلى 70 على الأقل</p>"),
            (other, "خبر آخر", "نص آخر"),
        ]),
    );
    server.set(
        "/b.xml",
        cp1256_feed(&[(cairo, CAIRO_REVISED, "<p>يزور الوزير القاهرة</p>")]),
    );
    let second = poll_once(&config).await.unwrap();
    assert_eq!(second.totals.items_new, 0, "never new twice: {second:#?}");
    assert_eq!(second.totals.items_revised, 2);
    assert_eq!(second.totals.items_duplicate, 3, "revised items are known ones");
    assert!(
        second.totals.to_string().contains("3 duplicate, 2 revised"),
        "{}",
        second.totals
    );
    assert!(
        !second.rendered.is_empty(),
        "a revision renders the outputs again"
    );

    let store = Store::open(&store_path).unwrap();
    assert_eq!(store.item_count(), 3);
    let after = render_all(&config, &store).unwrap();
    for name in ["politics.rss", "politics.atom"] {
        assert_ne!(before[name].etag, after[name].etag, "{name}'s ETag changes");
        let got = entries(&after[name].body);
        let titles: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
        assert!(
            titles.contains(&BLAST_REVISED) && titles.contains(&CAIRO_REVISED),
            "{name}: {titles:?}"
        );
        assert!(
            !titles.contains(&BLAST) && !titles.contains(&CAIRO),
            "{name}: {titles:?}"
        );
        assert_eq!(titles.len(), 3, "{name}: one entry per item");
        let revised = got.iter().find(|e| e.0 == BLAST_REVISED).unwrap();
        assert!(revised.1.contains("ارتفع عدد القتلى"), "{name}: {revised:?}");
    }
    // Atom dates the revision, and keeps the item's own date; the
    // unchanged entry's last update is still its date.
    let atom = entries(&after["politics.atom"].body);
    let revised = atom.iter().find(|e| e.0 == BLAST_REVISED).unwrap();
    let published = revised.2.unwrap();
    assert_eq!(published, 1_763_805_600, "the sort date stays the entry's");
    assert!(
        revised.3.unwrap() > published,
        "<updated> is the revision's time: {revised:?}"
    );
    let same = atom.iter().find(|e| e.0 == "خبر آخر").unwrap();
    assert_eq!(same.3, Some(published));
    // Where operators look: the feed's state (and so its status).
    let state = store.feed_state(&a).unwrap().unwrap();
    assert_eq!(state.revised, 1);
    assert!(state.last_revision.is_some());
    assert_eq!(store.feed_state(&b).unwrap().unwrap().revised, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_outlet_and_markup_the_sanitiser_drops_revise_nothing() {
    let server = FeedServer::start().await;
    let link = "https://news.example/lebanon/port";
    let a = server.route("/a.xml", utf8_feed(&[(link, BLAST, "<p>خبر عاجل</p>")]));
    let wire = server.route("/wire.xml", cp1256_feed(&[(link, "وكالة: انفجار", "نص الوكالة")]));
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new().feed("أخبار", &a).load(dir.path());
    assert_eq!(poll_once(&config).await.unwrap().totals.items_new, 1);
    // A second outlet carries the same link with its own text: a sighting.
    let config = TestConfig::new()
        .feed("أخبار", &a)
        .feed("وكالة", &wire)
        .load(dir.path());
    let second = poll_once(&config).await.unwrap();
    assert_eq!((second.totals.items_new, second.totals.items_revised), (0, 0));
    // It rewrites its text: not the record's text, so nothing is revised.
    server.set(
        "/wire.xml",
        cp1256_feed(&[(link, "وكالة: عشرات القتلى", "نص جديد")]),
    );
    // The first feed adds only markup the sanitiser drops (a script, an
    // event handler): a new fingerprint, the same published text.
    server.set(
        "/a.xml",
        utf8_feed(&[(
            link,
            BLAST,
            "<p onclick=\"track()\">خبر عاجل</p><script>track()</script>",
        )]),
    );
    let third = poll_once(&config).await.unwrap();
    assert_eq!(third.totals.items_revised, 0, "{third:#?}");
    assert!(!third.totals.to_string().contains("revised"), "{}", third.totals);
    assert!(third.rendered.is_empty(), "nothing to render again");
    let store = Store::open(&config.storage.path).unwrap();
    let items = store.recent(10, usize::MAX, |_| true).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].title, BLAST);
    assert_eq!(items[0].summary.as_deref(), Some("<p>خبر عاجل</p>"));
    assert_eq!(
        items[0].updated,
        Some(1_763_805_600),
        "never revised: its pubDate"
    );
    assert_eq!(items[0].sources.len(), 2);
    assert_eq!(store.feed_state(&a).unwrap().unwrap().revised, 0);
    drop(store);
    // A real change after the markup-only one is a revision.
    server.set("/a.xml", utf8_feed(&[(link, BLAST_REVISED, "<p>خبر عاجل</p>")]));
    let fourth = poll_once(&config).await.unwrap();
    assert_eq!(fourth.totals.items_revised, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_text_item_keeps_its_article_when_its_feed_revises_the_teaser() {
    let server = FeedServer::start().await;
    let article = server.route(
        "/news/cairo",
        Route::feed(fixture("fulltext/cairo-visit.html"), "text/html; charset=utf-8"),
    );
    let feed = server.route("/rss", utf8_feed(&[(&article, CAIRO, "التفاصيل بعد قليل..")]));
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new()
        .feed_with("الجزيرة", &feed, &[("full_text", "true")])
        .load(dir.path());
    assert_eq!(poll_once(&config).await.unwrap().totals.items_new, 1);
    let extracted = {
        let store = Store::open(&config.storage.path).unwrap();
        let items = store.recent(10, usize::MAX, |_| true).unwrap();
        let content = items[0].content.clone().unwrap();
        assert!(content.contains("وصل صدام حفتر"), "the article: {content}");
        content
    };
    server.set(
        "/rss",
        utf8_feed(&[(&article, CAIRO_REVISED, "وصل الوزير إلى القاهرة")]),
    );
    let second = poll_once(&config).await.unwrap();
    assert_eq!((second.totals.items_new, second.totals.items_revised), (0, 1));
    let store = Store::open(&config.storage.path).unwrap();
    let items = store.recent(10, usize::MAX, |_| true).unwrap();
    assert_eq!(items[0].title, CAIRO_REVISED);
    assert_eq!(items[0].summary.as_deref(), Some("وصل الوزير إلى القاهرة"));
    assert_eq!(
        items[0].content.as_deref(),
        Some(extracted.as_str()),
        "the article stays"
    );
    assert_eq!(
        server.requests_to("/news/cairo"),
        1,
        "the page is not fetched again"
    );
}
