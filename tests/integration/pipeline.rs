//! The whole pipeline driven through the library: local feed server →
//! poll → sled store → rendered outputs.

use feedwire::app::{poll_once, render_all};
use feedwire::store::Store;

use crate::support::*;

/// Newest first, as the fixtures date them. The story carried by three feeds
/// (index 3) keeps the title of whichever feed was stored first.
const EXPECTED_TITLES: [&str; 8] = [
    "Parliament passes election law",
    "البرلمان يصوّت على قانون الانتخابات الجديد",
    "وزير الخارجية يزور القاهرة",
    "<shared>",
    "Strike closes ports",
    "Coalition talks resume in Berlin",
    "الحكومة تعلن استقالتها بعد اجتماع طارئ",
    "مظاهرات في العاصمة للمطالبة بالإصلاح",
];
const SHARED_TITLES: [&str; 3] = [
    "قمة الجامعة العربية تبدأ أعمالها",
    "Arab League summit opens",
    "Summit opens",
];

fn assert_titles(titles: &[String]) {
    assert_eq!(titles.len(), EXPECTED_TITLES.len(), "{titles:#?}");
    for (got, want) in titles.iter().zip(EXPECTED_TITLES) {
        if want == "<shared>" {
            assert!(SHARED_TITLES.contains(&got.as_str()), "{got}");
        } else {
            assert_eq!(got, want);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_dedup_and_render() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = load_config(&write_config(dir.path(), &serve_all_fixtures(&server)));

    // First poll: every good feed lands, the broken one fails alone.
    let first = poll_once(&config).await.unwrap();
    assert_eq!(first.totals.feeds_ok, 4, "{first:#?}");
    assert_eq!(first.totals.feeds_failed, 1);
    assert_eq!(first.failures[0].0, server.url("/broken.xml"));
    assert!(first.failures[0].1.contains("not a feed"), "{:?}", first.failures);
    // 10 entries in the good feeds; the shared story is one item.
    assert_eq!(first.totals.items_new, 8);
    assert_eq!(first.totals.items_duplicate, 2);
    assert_eq!(first.items_stored, 8);

    // Second poll: conditional GETs, answered 304, nothing new.
    let second = poll_once(&config).await.map_err(|e| format!("{e:#}")).unwrap();
    assert_eq!(second.totals.not_modified, 4, "{second:#?}");
    assert_eq!(second.totals.items_new, 0);
    assert_eq!(second.items_stored, 8);
    let requests = server.requests();
    let aj: Vec<_> = requests.iter().filter(|r| r.path == "/aj.xml").collect();
    assert_eq!(aj.len(), 2);
    assert_eq!(aj[0].if_none_match, None);
    assert!(aj[1].if_none_match.is_some(), "second poll is conditional");
    assert!(aj[0].user_agent.as_deref().unwrap().starts_with("feedwire/"));

    let store = Store::open(&config.storage.path).unwrap();
    let items = store.recent(100, usize::MAX, |_| true).unwrap();
    let shared: Vec<_> = items
        .iter()
        .filter(|i| i.key.as_str() == "//shared.example/world/summit-2025")
        .collect();
    assert_eq!(shared.len(), 1, "one item for the link carried by three feeds");
    let mut names: Vec<&str> = shared[0].sources.iter().map(|s| s.feed_name.as_str()).collect();
    names.sort();
    let mut want = vec!["Example News", "RDF Wire", "الجزيرة نت"];
    want.sort();
    assert_eq!(names, want);
    assert!(
        shared[0]
            .sources
            .iter()
            .any(|s| s.link.as_deref() == Some("http://shared.example/world/summit-2025?fbclid=zzz")),
        "each source keeps the link as its feed gave it"
    );

    // Published links are cleaned of tracking parameters and fragments.
    let links: Vec<&str> = items.iter().filter_map(|i| i.link.as_deref()).collect();
    assert!(links.contains(&"https://www.example-news.com/politics/strike"));
    assert!(
        links.iter().all(|l| !l.contains("utm_") && !l.contains("fbclid")),
        "{links:?}"
    );

    // Both outputs: parse back, newest first, Arabic byte-exact.
    let docs = render_all(&config, &store).unwrap();
    for name in ["politics.rss", "politics.atom"] {
        let doc = &docs[name];
        let (ids, titles) = entries_of(&doc.body);
        assert_titles(&titles);
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "ids are unique in {name}");
        let text = std::str::from_utf8(&doc.body).unwrap();
        for arabic in [
            "البرلمان يصوّت على قانون الانتخابات الجديد",
            "الحكومة تعلن استقالتها بعد اجتماع طارئ",
            "اليوم السابع",
            "سياسة",
        ] {
            assert!(text.contains(arabic), "{name} carries {arabic} as UTF-8");
        }
        assert!(!text.contains("<script"), "{name} has no script");
        assert!(!text.contains("&lt;script"), "{name} has no escaped script");
    }
    let rss = std::str::from_utf8(&docs["politics.rss"].body).unwrap();
    assert!(
        rss.contains(&format!(
            "<source url=\"{}\">اليوم السابع</source>",
            server.url("/youm7.xml")
        )),
        "{rss}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_selects_feeds_by_tag() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut feeds = serve_all_fixtures(&server);
    feeds.truncate(2);
    feeds[1].tags = &["sport"];
    let config = load_config(&write_config(dir.path(), &feeds));
    let report = poll_once(&config).await.unwrap();
    assert_eq!(report.items_stored, 5, "the shared story is one item");
    let store = Store::open(&config.storage.path).unwrap();
    let docs = render_all(&config, &store).unwrap();
    let (_, titles) = entries_of(&docs["politics.rss"].body);
    // Only the Arabic politics feed is selected. The shared story keeps the
    // title of whichever feed stored it first, but is attributed to the
    // selected feed.
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert_eq!(
        titles[..2],
        [
            "البرلمان يصوّت على قانون الانتخابات الجديد",
            "وزير الخارجية يزور القاهرة"
        ]
    );
    assert!(SHARED_TITLES[..2].contains(&titles[2].as_str()), "{titles:?}");
    let rss = std::str::from_utf8(&docs["politics.rss"].body).unwrap();
    assert_eq!(
        rss.matches(&format!(
            "<source url=\"{}\">الجزيرة نت</source>",
            server.url("/aj.xml")
        ))
        .count(),
        3,
        "{rss}"
    );
    // The other outlet that carried the shared story is named in its footer.
    let footer = rss.find("ورد الخبر أيضاً في: <a href=\"").expect("footer");
    assert!(
        rss[footer..].starts_with("ورد الخبر أيضاً في: <a href=\"http"),
        "{rss}"
    );
    assert_eq!(rss.matches(">Example News</a></p>").count(), 1, "{rss}");
}
