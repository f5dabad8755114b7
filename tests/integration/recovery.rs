//! The parse recovery layer end to end: our own fixtures of each shape that
//! real publishers serve (issue 11), served over HTTP on 127.0.0.1, polled
//! with `poll_once` into a real sled store, and read back as the operator
//! sees them (`FeedStatus`: the `/status.json` rows) and as subscribers do
//! (the stored items).

use feedwire::app::poll_once;
use feedwire::status::FeedStatus;
use feedwire::store::Store;

use crate::support::*;

const RSS: &str = "application/rss+xml";

struct Case {
    fixture: &'static str,
    content_type: &'static str,
    /// Links that must be stored.
    links: &'static [&'static str],
    state: &'static str,
}

const CASES: &[Case] = &[
    Case {
        fixture: "recover_empty_media.xml",
        content_type: RSS,
        links: &[
            "https://news.example/world/summit.html",
            "https://news.example/world/markets.html",
        ],
        state: "repaired",
    },
    Case {
        fixture: "recover_rss2_default_ns.xml",
        content_type: RSS,
        links: &["https://ns.example/1", "https://ns.example/2"],
        state: "ok",
    },
    Case {
        fixture: "recover_rss090.rdf",
        content_type: "application/rdf+xml",
        links: &[
            "https://ticker.example/meldung/1",
            "https://ticker.example/meldung/2",
            "https://ticker.example/meldung/3",
        ],
        state: "ok",
    },
    Case {
        fixture: "recover_atom03.xml",
        content_type: "application/atom+xml",
        links: &[
            "https://blog.example/2025/11/first",
            "https://blog.example/2025/11/second",
        ],
        state: "ok",
    },
    Case {
        fixture: "recover_damaged.xml",
        content_type: RSS,
        links: &[
            "https://damaged.example/a?id=1&ref=home",
            "https://damaged.example/b",
            "https://damaged.example/c",
        ],
        state: "repaired",
    },
    Case {
        fixture: "recover_latin1_undeclared.xml",
        content_type: "text/xml",
        links: &[
            "https://noticias.example/eleicao",
            "https://noticias.example/economie",
        ],
        state: "ok",
    },
    Case {
        fixture: "recover_unknown_root.xml",
        content_type: RSS,
        links: &[],
        state: "no_entries",
    },
    Case {
        fixture: "recover_empty_channel.xml",
        content_type: RSS,
        links: &[],
        state: "ok",
    },
    Case {
        fixture: "recover_cdf.xml",
        content_type: "application/x-cdf",
        links: &[
            "https://cdf.example/akhbar/1",
            "https://cdf.example/akhbar/2?a=1&b=2",
        ],
        state: "ok",
    },
    Case {
        fixture: "recover_rss2_prefixed.xml",
        content_type: RSS,
        links: &["https://prefixed.example/1", "https://prefixed.example/2"],
        state: "ok",
    },
    Case {
        fixture: "recover_atom_links.xml",
        content_type: RSS,
        links: &[
            "https://dotnet.example/1",
            "https://dotnet.example/2",
            "https://dotnet.example/3",
            "https://dotnet.example/4",
        ],
        state: "ok",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_yields_its_items_or_says_why_not() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = TestConfig::new();
    let mut urls = Vec::new();
    for (i, c) in CASES.iter().enumerate() {
        let url = server.serve_fixture(&format!("/{}", c.fixture), c.fixture, c.content_type);
        config = config.feed(&format!("feed{i}"), &url);
        urls.push(url);
    }
    let config = config.load(dir.path());
    let report = poll_once(&config).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.totals.feeds_no_entries, 1, "{}", report.totals);
    let store = Store::open(&config.storage.path).unwrap();
    let items = store.recent(1000, 10_000, |_| true).unwrap();
    for (c, url) in CASES.iter().zip(&urls) {
        let state = store.feed_state(url).unwrap().unwrap();
        let status = FeedStatus::new(c.fixture, url, Some(&state));
        assert_eq!(status.state, c.state, "{}: {status:?}", c.fixture);
        for link in c.links {
            assert!(
                items.iter().any(|i| i.link.as_deref() == Some(*link)),
                "{}: {link} not stored",
                c.fixture
            );
        }
        let from_feed = items
            .iter()
            .filter(|i| i.sources.iter().any(|s| s.feed_url == *url))
            .count();
        assert_eq!(from_feed, c.links.len(), "{}", c.fixture);
    }
    let by_link = |l: &str| items.iter().find(|i| i.link.as_deref() == Some(l)).unwrap();
    // Text survives each repair, Arabic included.
    assert_eq!(
        by_link("https://news.example/world/summit.html").title,
        "قمة عربية في القاهرة"
    );
    assert_eq!(
        by_link("https://damaged.example/a?id=1&ref=home").title,
        "Q&A: what the summit means"
    );
    assert_eq!(
        by_link("https://damaged.example/b").title,
        "Prices rise — الأسعار ترتفع",
        "nbsp resolved, then spaces collapsed"
    );
    assert_eq!(by_link("https://ticker.example/meldung/3").title, "تحديث أمني");
    assert_eq!(
        by_link("https://noticias.example/eleicao").title,
        "Eleição: votação começa às 8h em São Paulo"
    );
    let atom = by_link("https://blog.example/2025/11/first");
    assert_eq!(atom.title, "أول تدوينة");
    assert_eq!(atom.published, Some(1_763_974_800), "issued read as published");
    assert!(
        atom.content.as_deref().unwrap().contains("<b>التدوينة</b>"),
        "{:?}",
        atom.content
    );

    let status = |i: usize| {
        let state = store.feed_state(&urls[i]).unwrap().unwrap();
        FeedStatus::new("x", &urls[i], Some(&state))
    };
    let damaged = status(4);
    let repaired = damaged.repaired.as_deref().unwrap();
    assert!(
        repaired.contains("2 stray '&'s")
            && repaired.contains("1 HTML entity")
            && repaired.contains("unclosed CDATA"),
        "{repaired}"
    );
    let unknown = status(6);
    let reason = unknown.no_entries.as_deref().unwrap();
    assert!(
        reason.contains("root <feed> in namespace http://www.w3.org/2005/Atom"),
        "{reason}"
    );
    assert!(unknown.note().unwrap().starts_with("no entries understood: "));
    assert_eq!(status(7).no_entries, None, "an empty channel is a plain success");
    assert_eq!(status(5).charset.as_deref(), Some("windows-1252"));
    let cdf = by_link("https://cdf.example/akhbar/1");
    assert_eq!(cdf.title, "قمة عربية في القاهرة");
    assert!(
        cdf.summary
            .as_deref()
            .unwrap()
            .contains("الزعماء يجتمعون &amp; يناقشون"),
        "{:?}",
        cdf.summary
    );
    assert_eq!(cdf.published, Some(1_763_962_200), "LASTMOD read as the date");
    assert_eq!(by_link("https://prefixed.example/1").title, "خبر في فضاء أسماء");
    assert_eq!(by_link("https://dotnet.example/1").title, "أخبار الاقتصاد");
    for (i, c) in CASES.iter().enumerate().skip(8) {
        assert_eq!(status(i).repaired, None, "{}: a dialect is not damage", c.fixture);
    }
}

/// Items known by a guid only, or by nothing at all, keep one key from
/// poll to poll: the same entries served again (one new on top, no ETag,
/// so the document is fetched and parsed again) store only the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_without_links_keep_their_keys_across_polls() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let doc = String::from_utf8(fixture("recover_guid_only.xml")).unwrap();
    let url = server.route("/guids.xml", Route::feed(doc.clone().into_bytes(), RSS).no_etag());
    let config = TestConfig::new().feed("guids", &url).load(dir.path());
    let first = poll_once(&config).await.unwrap();
    assert_eq!(first.totals.items_new, 5, "{}", first.totals);
    let again = doc.replacen(
        "<item>",
        "<item><title>جديد</title><guid>https://guids.example/new</guid></item>\n    <item>",
        1,
    );
    server.set("/guids.xml", Route::feed(again.into_bytes(), RSS).no_etag());
    let second = poll_once(&config).await.unwrap();
    assert_eq!(second.totals.items_new, 1, "{}", second.totals);
    let store = Store::open(&config.storage.path).unwrap();
    let items = store.recent(100, 10_000, |_| true).unwrap();
    assert_eq!(items.len(), 6);
    let mut links: Vec<&str> = items.iter().filter_map(|i| i.link.as_deref()).collect();
    links.sort_unstable();
    // A guid is the link unless it says `isPermaLink="false"`; a relative
    // one resolves against the feed's URL.
    let relative = format!("{}/2025/11/b", url.trim_end_matches("/guids.xml"));
    assert_eq!(
        links,
        [
            relative.as_str(),
            "https://guids.example/a",
            "https://guids.example/new"
        ]
    );
    assert!(items
        .iter()
        .any(|i| i.link.is_none() && i.summary.as_deref() == Some("خبر بلا عنوان ولا رابط ولا معرف")));
}

/// Entries older than `[storage] retention` are counted in the feed status
/// and never stored, so `poll-once` does not publish what the daemon would
/// prune at its next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_older_than_retention_are_counted_not_stored() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.serve_fixture("/old.xml", "recover_old_items.xml", RSS);
    let path = TestConfig::new().feed("archive", &url).write(dir.path());
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "retention = \"36500d\"",
        "retention = \"3650d\"",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let config = load_config(&path);
    poll_once(&config).await.unwrap();
    let store = Store::open(&config.storage.path).unwrap();
    let links: Vec<String> = store
        .recent(100, 10_000, |_| true)
        .unwrap()
        .into_iter()
        .filter_map(|i| i.link)
        .collect();
    assert_eq!(links, ["https://archive.example/2025/1"]);
    let state = store.feed_state(&url).unwrap().unwrap();
    assert_eq!(state.items_too_old, 2);
    let status = FeedStatus::new("archive", &url, Some(&state));
    assert_eq!(status.state, "ok");
    assert_eq!(
        status.note().as_deref(),
        Some("2 entries older than the retention, not stored")
    );
}
