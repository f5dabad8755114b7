//! The entries of a gap read back from the feed's next pages (RFC 5005
//! paging, `poller::pages`): a local publisher serves a paged feed (RSS
//! with `atom:link rel="next"`, Atom, and RSS in windows-1256, Arabic
//! headlines) whose pages change between two polls.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration as Minutes, Utc};
use feedwire::app::{poll_once, render_all};
use feedwire::clock::ManualClock;
use feedwire::poller::{poll_all, FeedReport, Outcome};
use feedwire::status::FeedStatus;
use feedwire::store::Store;
use tokio::time::timeout;

use crate::poller::{advance_to, context, poll_url, state, t0};
use crate::support::*;

const RSS: &str = "application/rss+xml";

/// A publisher's paged feed: its newest `per_page` entries at
/// `{dir}/feed.xml`, each page naming the next (`{dir}/page2.xml`...)
/// while it has older entries.
#[derive(Clone, Copy)]
struct Paged {
    dir: &'static str,
    per_page: usize,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rss,
    Atom,
    /// RSS 2.0 in windows-1256, labelled in its XML declaration only.
    Rss1256,
    /// JSON Feed 1.1, paged by `next_url`.
    Json,
}

impl Paged {
    fn path(&self, page: usize) -> String {
        match page {
            1 => format!("{}/feed.xml", self.dir),
            n => format!("{}/page{n}.xml", self.dir),
        }
    }

    fn link(&self, i: usize) -> String {
        format!("https://paged.example{}/akhbar/{i}", self.dir)
    }

    fn title(i: usize) -> String {
        format!("عاجل {i}: وزير الخارجية يصل إلى القاهرة في زيارة رسمية")
    }

    /// Page `page` when `published` entries are out, entry `i` dated
    /// `base` + i minutes; `next` is the href of its next link, if any.
    fn document(&self, published: usize, page: usize, base: DateTime<Utc>, next: Option<&str>) -> Vec<u8> {
        let newest = published.saturating_sub((page - 1) * self.per_page);
        let entries = (newest.saturating_sub(self.per_page)..newest).rev();
        if self.kind == Kind::Json {
            let items: Vec<serde_json::Value> = entries
                .map(|i| {
                    serde_json::json!({
                        "id": self.link(i),
                        "url": self.link(i),
                        "title": Paged::title(i),
                        "content_text": format!("تفاصيل الخبر رقم {i}"),
                        "date_published": (base + Minutes::minutes(i as i64)).to_rfc3339(),
                    })
                })
                .collect();
            let mut feed = serde_json::json!({
                "version": "https://jsonfeed.org/version/1.1",
                "title": "مدونة الأخبار",
                "home_page_url": "https://paged.example/",
                "items": items,
            });
            if let Some(next) = next {
                feed["next_url"] = next.into();
            }
            return serde_json::to_vec(&feed).unwrap();
        }
        let atom = self.kind == Kind::Atom;
        let mut body = String::new();
        for i in entries {
            let (title, link, date) = (Paged::title(i), self.link(i), base + Minutes::minutes(i as i64));
            body.push_str(&if atom {
                format!(
                    "<entry><id>{link}</id><title>{title}</title><link href=\"{link}\"/><updated>{}</updated><summary>تفاصيل الخبر رقم {i}</summary></entry>\n",
                    date.to_rfc3339()
                )
            } else {
                format!(
                    "<item><title>{title}</title><link>{link}</link><guid>{link}</guid><pubDate>{}</pubDate><description>تفاصيل الخبر رقم {i}</description></item>\n",
                    date.to_rfc2822()
                )
            });
        }
        let next = next.map(|href| href.replace('&', "&amp;"));
        let text = if atom {
            let next = next
                .map(|n| format!("<link rel=\"next\" href=\"{n}\"/>"))
                .unwrap_or_default();
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>مدونة الأخبار</title><id>tag:paged.example,2026:{}</id><updated>{}</updated><link href=\"https://paged.example/\"/>{next}\n{body}</feed>\n",
                self.dir,
                base.to_rfc3339()
            )
        } else {
            let next = next
                .map(|n| format!("<atom:link rel=\"next\" type=\"application/rss+xml\" href=\"{n}\"/>"))
                .unwrap_or_default();
            let charset = if self.kind == Kind::Rss1256 {
                "windows-1256"
            } else {
                "utf-8"
            };
            format!(
                "<?xml version=\"1.0\" encoding=\"{charset}\"?>\n<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel><title>مدونة الأخبار</title><link>https://paged.example/</link>{next}\n{body}</channel></rss>\n"
            )
        };
        if self.kind == Kind::Rss1256 {
            let (bytes, _, bad) = encoding_rs::WINDOWS_1256.encode(&text);
            assert!(!bad);
            bytes.into_owned()
        } else {
            text.into_bytes()
        }
    }

    /// Serves every page of the feed as it is when `published` entries
    /// are out: each page names the next while older entries remain.
    fn serve(&self, server: &FeedServer, published: usize, base: DateTime<Utc>) {
        self.serve_upto(server, published, base, usize::MAX);
    }

    /// [`Paged::serve`], only the first `most` pages (the others stay as
    /// they were last served: never read when `most` exceeds the bound).
    fn serve_upto(&self, server: &FeedServer, published: usize, base: DateTime<Utc>, most: usize) {
        let pages = published.div_ceil(self.per_page).max(1);
        for page in 1..=(pages + 2).min(most) {
            let next = (page < pages).then(|| server.url(&self.path(page + 1)));
            let route = if page <= pages {
                Route::feed(
                    self.document(published, page, base, next.as_deref()),
                    self.content_type(),
                )
            } else {
                Route::status(404)
            };
            server.set(&self.path(page), route);
        }
    }

    fn content_type(&self) -> &'static str {
        match self.kind {
            Kind::Atom => "application/atom+xml",
            Kind::Rss | Kind::Rss1256 => "application/rss+xml",
            Kind::Json => "application/feed+json",
        }
    }

    fn url(&self, server: &FeedServer) -> String {
        server.url(&self.path(1))
    }

    /// Requests the server saw for page `page`.
    fn requests(&self, server: &FeedServer, page: usize) -> usize {
        server.requests_to(&self.path(page))
    }
}

/// Every stored item's link and title, by link.
fn stored(store: &Store) -> HashMap<String, (String, usize)> {
    let mut out: HashMap<String, (String, usize)> = HashMap::new();
    store
        .for_each_item(|item| {
            let e = out
                .entry(item.link.clone().unwrap_or_default())
                .or_insert((item.title.clone(), 0));
            e.1 += 1;
            true
        })
        .unwrap();
    out
}

fn recovery(r: &FeedReport) -> &feedwire::poller::pages::Recovery {
    r.recovery
        .as_deref()
        .unwrap_or_else(|| panic!("{}: no recovery: {r:?}", r.url))
}

fn new_of(r: &FeedReport) -> usize {
    match &r.outcome {
        Outcome::Updated { ingest, .. } => ingest.new,
        other => panic!("{}: {other:?}", r.url),
    }
}

/// Poll 1 sees entries 0–9 of each feed; then 25 more are published.
/// Poll 2's first page holds the newest 10 (a gap), its next page the 10
/// before, and the third page reaches entries poll 1 stored: all 35 are
/// stored once each, with their Arabic headlines (windows-1256 too; a JSON
/// Feed pages by `next_url`), the outputs carry them, and the summary says nothing was missed. The first
/// poll, which also saw next links, read no page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_filled_from_the_next_pages_in_rss_atom_json_and_windows_1256() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = Utc::now() - Minutes::days(1);
    let feeds = [
        Paged {
            dir: "/blogger",
            per_page: 10,
            kind: Kind::Rss,
        },
        Paged {
            dir: "/gitlab",
            per_page: 10,
            kind: Kind::Atom,
        },
        Paged {
            dir: "/youm",
            per_page: 10,
            kind: Kind::Rss1256,
        },
        Paged {
            dir: "/micro",
            per_page: 10,
            kind: Kind::Json,
        },
    ];
    let mut cfg = TestConfig::new();
    for (i, f) in feeds.iter().enumerate() {
        // A next link on a feed's first poll is not followed.
        f.serve(&server, 10, base);
        let next = server.url(&f.path(2));
        server.set(
            &f.path(1),
            Route::feed(f.document(10, 1, base, Some(&next)), f.content_type()),
        );
        cfg = cfg.feed(&format!("مدونة {i}"), &f.url(&server));
    }
    let config = cfg.load(dir.path());

    let first = poll_once(&config).await.unwrap();
    assert_eq!(first.totals.items_new, 40, "{}", first.totals);
    assert_eq!((first.totals.feeds_gap, first.totals.pages_read), (0, 0));
    for f in &feeds {
        assert_eq!(
            f.requests(&server, 2),
            0,
            "{}: a first poll crawls nothing",
            f.dir
        );
        f.serve(&server, 35, base);
    }

    let second = poll_once(&config).await.unwrap();
    let t = &second.totals;
    assert_eq!(t.items_new, 100, "the 25 new of each feed: {t}");
    assert_eq!((t.feeds_gap, t.feeds_gap_closed), (4, 4), "{t}");
    assert_eq!((t.items_recovered, t.pages_read), (60, 8), "{t}");
    let summary = t.to_string();
    assert!(
        summary.ends_with(
            "; 4 feeds with a gap closed by their next pages (nothing missed); 60 entries recovered from 8 next pages after gaps"
        ),
        "{summary}"
    );
    assert!(!summary.contains("may have been missed"), "{summary}");
    for f in &feeds {
        assert_eq!(
            (
                f.requests(&server, 2),
                f.requests(&server, 3),
                f.requests(&server, 4)
            ),
            (1, 1, 0),
            "{}: pages 2 and 3 once, no further",
            f.dir
        );
    }

    let store = Store::open(&config.storage.path).unwrap();
    let items = stored(&store);
    assert_eq!(items.len(), 140, "35 per feed");
    for f in &feeds {
        for i in 0..35 {
            let (title, n) = items
                .get(&f.link(i))
                .unwrap_or_else(|| panic!("{}: entry {i} lost", f.dir));
            assert_eq!((title.as_str(), *n), (Paged::title(i).as_str(), 1), "{}", f.dir);
        }
        let s = store.feed_state(&f.url(&server)).unwrap().unwrap();
        assert_eq!(
            (s.gaps, s.recovered, s.last_recovered),
            (1, 15, Some(15)),
            "{}",
            f.dir
        );
        let status = FeedStatus::new("مدونة", &f.url(&server), Some(&s));
        assert_eq!((status.recovered, status.last_recovered), (15, Some(15)));
        let note = status.note().unwrap();
        assert!(
            note.contains("none of the 10 entries was in the last poll")
                && note.contains("its next pages gave back 15 entries published in between (2 pages, down to entries it had): none missed"),
            "{note}"
        );
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            (json["recovered"].as_u64(), json["last_recovered"].as_u64()),
            (Some(15), Some(15))
        );
    }
    // The outputs carry every entry, each once.
    let rendered = render_all(&config, &store).unwrap();
    let (links, titles) = entries_of(&rendered["politics.rss"].body);
    assert_eq!(links.len(), 140);
    for f in &feeds {
        for i in 0..35 {
            assert!(
                links.contains(&f.link(i)),
                "{}: entry {i} not in the output",
                f.dir
            );
        }
    }
    for i in 0..35 {
        let n = titles.iter().filter(|t| t.contains(&Paged::title(i))).count();
        assert_eq!(n, 4, "headline {i} once from each feed: {titles:?}");
    }
}

/// Where paging stops: no next link (as before), a loop, a failing page
/// (page 1's entries kept, the feed ok, a WARN), the `gap_pages` bound
/// (still a possible loss); a page that repeats this poll's entries is
/// not the overlap; and the summary counts those gaps as "may have been
/// missed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_stops_at_a_loop_a_failing_page_the_bound_or_no_next_link() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = t0() - Minutes::days(1);
    let paged = |dir: &'static str| Paged {
        dir,
        per_page: 10,
        kind: Kind::Rss,
    };
    let (plain, looping, failing, bounded, same) = (
        paged("/plain"),
        paged("/loop"),
        paged("/fail"),
        paged("/bound"),
        paged("/same"),
    );
    let all = [plain, looping, failing, bounded, same];
    let mut cfg = TestConfig::new().poll("gap_pages", "2");
    for f in &all {
        f.serve(&server, 10, base);
        cfg = cfg.feed(f.dir, &f.url(&server));
    }
    let config = cfg.load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    let (report, _) = timeout(WAIT, poll_all(&ctx, &config)).await.unwrap();
    assert_eq!(report.items_new, 50);

    // 60 more published on each.
    for f in &all {
        f.serve(&server, 70, base);
    }
    let page1 = |f: &Paged| f.document(70, 1, base, None);
    server.set(&plain.path(1), Route::feed(page1(&plain), RSS));
    // Page 2 names itself.
    server.set(
        &looping.path(2),
        Route::feed(
            looping.document(
                70,
                2,
                base,
                Some(&looping.url(&server).replace("feed.xml", "page2.xml")),
            ),
            RSS,
        ),
    );
    server.set(&failing.path(2), Route::status(500));
    // A server that ignores the page parameter: page 2 is page 1 again,
    // whose entries this poll stored; that is no overlap.
    server.set(
        &same.path(2),
        Route::feed(same.document(70, 1, base, Some(&server.url(&same.path(3)))), RSS),
    );
    advance_to(&clock, t0() + Minutes::minutes(15));
    let (report, feeds) = timeout(WAIT, poll_all(&ctx, &config)).await.unwrap();
    let of = |f: &Paged| feeds.iter().find(|r| r.url == f.url(&server)).unwrap();
    for f in &all {
        let r = of(f);
        assert!(r.gap, "{}: {r:?}", f.dir);
        assert!(!matches!(r.outcome, Outcome::Failed { .. }), "{}: {r:?}", f.dir);
        let s = state(&ctx, &r.url);
        assert_eq!(s.last_error, None, "{}", f.dir);
        assert!(
            s.last_gap_note.as_deref().unwrap().contains("may"),
            "{}: {s:?}",
            f.dir
        );
    }

    assert_eq!(new_of(of(&plain)), 10);
    assert!(of(&plain).recovery.is_none(), "no next link: nothing to read");
    assert_eq!(plain.requests(&server, 2), 0);

    let rec = recovery(of(&looping));
    assert_eq!((rec.pages, rec.entries, rec.overlap), (1, 10, false), "{rec:?}");
    assert!(
        rec.stopped
            .as_deref()
            .unwrap()
            .contains("was read already (a loop)"),
        "{rec:?}"
    );
    assert_eq!(
        looping.requests(&server, 2),
        1,
        "a page naming itself is read once"
    );
    assert_eq!(new_of(of(&looping)), 20);

    let rec = recovery(of(&failing));
    assert_eq!((rec.pages, rec.entries, rec.overlap), (0, 0, false), "{rec:?}");
    assert!(
        rec.stopped.as_deref().unwrap().contains("failed: HTTP 500"),
        "{rec:?}"
    );
    assert_eq!(new_of(of(&failing)), 10, "page 1's entries are kept");

    let rec = recovery(of(&bounded));
    assert_eq!((rec.pages, rec.entries, rec.overlap), (2, 20, false), "{rec:?}");
    assert!(
        rec.stopped.as_deref().unwrap().contains("the bound of 2 pages"),
        "{rec:?}"
    );
    assert_eq!(
        (bounded.requests(&server, 3), bounded.requests(&server, 4)),
        (1, 0),
        "pages 2 and 3 were read, not page 4"
    );
    let s = state(&ctx, &of(&bounded).url);
    assert_eq!((s.recovered, s.last_recovered), (20, Some(20)));
    assert!(
        s.last_gap_note.as_deref().unwrap().contains(
            "its next pages gave back 20 entries (2 pages) without reaching entries it had (the bound of 2 pages, [poll] gap_pages): entries published in between may still have been missed"
        ),
        "{s:?}"
    );

    let rec = recovery(of(&same));
    assert_eq!((rec.pages, rec.entries, rec.overlap), (2, 10, false), "{rec:?}");
    assert_eq!(new_of(of(&same)), 20, "page 1's 10, page 3's 10");

    let stored = stored(&ctx.store);
    assert!(stored.values().all(|(_, n)| *n == 1), "nothing stored twice");
    assert_eq!(stored.len(), 50 + 10 + 20 + 10 + 30 + 20);
    assert_eq!((report.feeds_gap, report.feeds_gap_closed), (5, 0));
    assert_eq!((report.items_recovered, report.pages_read), (40, 5));
    assert!(
        report.to_string().ends_with(
            "; 5 feeds with a gap (none of their entries was in the poll before: entries may have been missed); 40 entries recovered from 5 next pages after gaps"
        ),
        "{report}"
    );
}

/// `[poll] gap_pages = 0` turns paging off: the gap is reported as before
/// and no next page is asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_pages_zero_reads_no_page() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = t0() - Minutes::days(1);
    let f = Paged {
        dir: "/off",
        per_page: 10,
        kind: Kind::Rss1256,
    };
    f.serve(&server, 10, base);
    let config = TestConfig::new()
        .poll("gap_pages", "0")
        .feed("مغلق", &f.url(&server))
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    poll_url(&ctx, &config, &f.url(&server)).await;
    f.serve(&server, 35, base);
    advance_to(&clock, t0() + Minutes::minutes(15));
    let r = poll_url(&ctx, &config, &f.url(&server)).await;
    assert!(r.gap && r.recovery.is_none(), "{r:?}");
    assert_eq!(new_of(&r), 10);
    assert_eq!(f.requests(&server, 2), 0);
}

/// A next page on a private address is refused unless the feed allows
/// private networks, as every fetch of the feed is. Through `[poll]
/// proxy`, so that the feed itself is at a public address (an address
/// literal the proxy "reaches": the test's feed server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_page_on_a_private_address_is_refused_unless_allowed() {
    let proxy = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = t0() - Minutes::days(1);
    let (guarded, open) = (
        Paged {
            dir: "/guarded",
            per_page: 10,
            kind: Kind::Rss,
        },
        Paged {
            dir: "/open",
            per_page: 10,
            kind: Kind::Atom,
        },
    );
    let public = |f: &Paged, page: usize| format!("http://93.184.215.14{}", f.path(page));
    let inside = |f: &Paged| format!("http://10.0.0.7{}", f.path(2));
    for f in [&guarded, &open] {
        f.serve(&proxy, 10, base);
    }
    let config = TestConfig::new()
        .poll("proxy", &format!("{:?}", proxy.url("/")))
        .feed_with(
            "محمي",
            &public(&guarded, 1),
            &[("allow_private_networks", "false")],
        )
        .feed("مفتوح", &public(&open, 1))
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    for f in [&guarded, &open] {
        let r = poll_url(&ctx, &config, &public(f, 1)).await;
        assert_eq!(new_of(&r), 10, "{r:?}");
    }
    for f in [&guarded, &open] {
        f.serve(&proxy, 35, base);
        proxy.set(
            &f.path(1),
            Route::feed(f.document(35, 1, base, Some(&inside(f))), f.content_type()),
        );
    }
    advance_to(&clock, t0() + Minutes::minutes(15));
    let r = poll_url(&ctx, &config, &public(&guarded, 1)).await;
    let rec = recovery(&r);
    assert_eq!((rec.pages, rec.overlap), (0, false), "{rec:?}");
    assert!(
        rec.stopped.as_deref().unwrap().contains("refused: 10.0.0.7 is"),
        "{rec:?}"
    );
    assert_eq!(new_of(&r), 10, "page 1's entries are kept");
    assert_eq!(guarded.requests(&proxy, 2), 0, "the proxy was not asked");
    // The same page for a feed that may reach private networks is read.
    let r = poll_url(&ctx, &config, &public(&open, 1)).await;
    assert!(recovery(&r).pages >= 1, "{r:?}");
    let asked: Vec<String> = proxy
        .requests_for(&open.path(2))
        .into_iter()
        .map(|q| q.host)
        .collect();
    assert_eq!(asked, ["10.0.0.7"]);
}

/// On a shared PostgreSQL store (a fleet), where a document's known keys
/// come in one query per page (`keys_from`): the same recovery, and a
/// page that repeats this poll's entries is still no overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_after_a_gap_on_postgres() {
    let Some(db) = pg_database("pages_after_a_gap_on_postgres").await else {
        return;
    };
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = t0() - Minutes::days(1);
    let (paged, same) = (
        Paged {
            dir: "/pg",
            per_page: 10,
            kind: Kind::Rss1256,
        },
        Paged {
            dir: "/pgsame",
            per_page: 10,
            kind: Kind::Atom,
        },
    );
    for f in [&paged, &same] {
        f.serve(&server, 10, base);
    }
    let path = TestConfig::new()
        .poll("gap_pages", "2")
        .feed("الصفحات", &paged.url(&server))
        .feed("نفسها", &same.url(&server))
        .write(dir.path());
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[storage]\n",
        &format!("[storage]\nbackend = \"postgres\"\nurl = {db:?}\n"),
        1,
    );
    std::fs::write(&path, text).unwrap();
    let config = load_config(&path);
    let clock = Arc::new(ManualClock::new(t0()));
    let store = Store::open_storage(&config.storage).unwrap();
    assert!(store.is_shared());
    let ctx = feedwire::poller::PollContext::new(
        store,
        feedwire::fetch::Fetcher::new(&config.poll).unwrap(),
        clock.clone(),
        &config,
    );
    for f in [&paged, &same] {
        assert_eq!(new_of(&poll_url(&ctx, &config, &f.url(&server)).await), 10);
        f.serve(&server, 35, base);
    }
    server.set(
        &same.path(2),
        Route::feed(
            same.document(35, 1, base, Some(&server.url(&same.path(3)))),
            same.content_type(),
        ),
    );
    advance_to(&clock, t0() + Minutes::minutes(15));
    let r = poll_url(&ctx, &config, &paged.url(&server)).await;
    let rec = recovery(&r);
    assert_eq!((rec.pages, rec.entries, rec.overlap), (2, 15, true), "{rec:?}");
    assert_eq!(new_of(&r), 25);
    let r = poll_url(&ctx, &config, &same.url(&server)).await;
    let rec = recovery(&r);
    assert_eq!(
        (rec.pages, rec.overlap),
        (2, true),
        "page 3 reaches the poll before: {rec:?}"
    );
    assert_eq!(rec.entries, 5, "page 2 repeated page 1; page 3 held 5 new");
    let items = stored(&ctx.store);
    assert_eq!(items.len(), 35 + 25);
    assert!(items.values().all(|(_, n)| *n == 1));
    for i in 0..35 {
        assert_eq!(
            items[&paged.link(i)].0,
            Paged::title(i),
            "windows-1256 headline {i}"
        );
    }
    let s = state(&ctx, &paged.url(&server));
    assert_eq!((s.recovered, s.last_recovered), (15, Some(15)));
}

/// Entries stored at several publishing rates, with and without the next
/// pages (`[poll] gap_pages` 5 and 0), for BENCHMARKS.md, Run 20: the
/// poller on a manual clock, each polled when its report says it is due
/// (the gap speed-up as it is), four simulated hours, a paged publisher
/// whose pages hold 20 entries (the first poll's window full). Printed
/// with `--nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_stored_at_several_rates_with_and_without_pages() {
    const WINDOW: usize = 20;
    let rates = [15usize, 30, 60, 120, 200];
    let server = FeedServer::start().await;
    let base = t0() - Minutes::days(1);
    let dirs: Vec<&'static str> = rates
        .iter()
        .flat_map(|r| [format!("/r{r}/on"), format!("/r{r}/off")])
        .map(|d| &*Box::leak(d.into_boxed_str()))
        .collect();
    let feeds: Vec<Paged> = dirs
        .iter()
        .map(|dir| Paged {
            dir,
            per_page: WINDOW,
            kind: Kind::Rss1256,
        })
        .collect();
    // Entry i of a feed publishing `rate` per 15 minutes is out at
    // t0 + i * 15m / rate, less a first window already out at t0.
    let published = |rate: usize, t: DateTime<Utc>| {
        let secs = (t - t0()).num_seconds().max(0) as usize;
        WINDOW + secs * rate / 900
    };
    let (on_dir, off_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut on = TestConfig::new().poll("gap_pages", "5");
    let mut off = TestConfig::new().poll("gap_pages", "0");
    for (i, f) in feeds.iter().enumerate() {
        f.serve_upto(&server, WINDOW, base, 8);
        if i % 2 == 0 {
            on = on.feed(f.dir, &f.url(&server));
        } else {
            off = off.feed(f.dir, &f.url(&server));
        }
    }
    let (on, off) = (on.load(on_dir.path()), off.load(off_dir.path()));
    let clock = Arc::new(ManualClock::new(t0()));
    let (ctx_on, ctx_off) = (context(&on, &clock), context(&off, &clock));
    let end = t0() + Minutes::hours(4);
    // Next due time per feed; polled in time order.
    let mut due: Vec<DateTime<Utc>> = vec![t0(); feeds.len()];
    let mut gaps = vec![0usize; feeds.len()];
    let mut last = vec![WINDOW; feeds.len()];
    loop {
        let (i, t) = due.iter().copied().enumerate().min_by_key(|(_, t)| *t).unwrap();
        if t > end {
            break;
        }
        advance_to(&clock, t);
        let f = &feeds[i];
        let rate = rates[i / 2];
        let n = published(rate, t);
        f.serve_upto(&server, n, base, 8);
        let (ctx, config) = if i % 2 == 0 {
            (&ctx_on, &on)
        } else {
            (&ctx_off, &off)
        };
        let r = poll_url(ctx, config, &f.url(&server)).await;
        gaps[i] += usize::from(r.gap);
        last[i] = n;
        due[i] = r.next_due.unwrap();
    }
    let mut lost_on = Vec::new();
    eprintln!("| entries per 15m / window | published | stored, no pages | stored, pages | lost, no pages | lost, pages | requests, no pages | requests, pages | gaps, no pages / pages |");
    eprintln!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for (k, rate) in rates.iter().enumerate() {
        let (fon, foff) = (&feeds[2 * k], &feeds[2 * k + 1]);
        let count = |ctx: &feedwire::poller::PollContext, f: &Paged| {
            stored(&ctx.store)
                .keys()
                .filter(|l| l.starts_with(&format!("https://paged.example{}/", f.dir)))
                .count()
        };
        let requests = |f: &Paged| (1..=8).map(|p| f.requests(&server, p)).sum::<usize>();
        let (s_on, s_off) = (count(&ctx_on, fon), count(&ctx_off, foff));
        // From the first document's oldest entry to each feed's last poll.
        let (p_on, p_off) = (last[2 * k], last[2 * k + 1]);
        lost_on.push((*rate, p_on - s_on, p_off - s_off));
        eprintln!(
            "| {rate} / {WINDOW} | {p_on} / {p_off} | {s_off} | {s_on} | {} | {} | {} | {} | {} / {} |",
            p_off - s_off,
            p_on - s_on,
            requests(foff),
            requests(fon),
            gaps[2 * k + 1],
            gaps[2 * k]
        );
    }
    // Within 5 pages a poll's gap is read back whole: nothing is lost while
    // a poll finds at most 6 windows new (at 120 per 15m the first gap
    // is 6 windows plus the poll's jitter, at the bound), and the pages
    // never lose more than the feed without them.
    for (rate, lost, without) in &lost_on {
        if *rate <= 60 {
            assert_eq!(*lost, 0, "{rate} per 15m lost {lost} with pages");
        }
        assert!(
            lost <= without,
            "{rate} per 15m: {lost} lost with pages, {without} without"
        );
    }
}

/// Adds WordPress's generator to an RSS document (bytes of any charset).
fn wordpress(doc: Vec<u8>) -> Vec<u8> {
    let at = doc
        .windows(9)
        .position(|w| w == b"<channel>")
        .expect("an RSS channel")
        + 9;
    let mut out = doc[..at].to_vec();
    out.extend_from_slice(b"<generator>https://wordpress.org/?v=6.8.1</generator>");
    out.extend_from_slice(&doc[at..]);
    out
}

/// WordPress serves a feed's older posts at `?paged=2`, `?paged=3`...
/// without naming them: after a gap, a document whose generator is
/// WordPress is paged that way (Arabic, windows-1256). A page past the
/// last one (WordPress answers 404) ends the walk quietly; a site that
/// ignores the parameter (page 1 again) ends it too, and the gap is then
/// a possible loss, never "none missed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wordpress_feeds_are_paged_with_paged_n() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let base = t0() - Minutes::days(1);
    let posts = |dir| Paged {
        dir,
        per_page: 10,
        kind: Kind::Rss1256,
    };
    let (wp, renewed, ignoring) = (posts("/wp"), posts("/renewed"), posts("/ignoring"));
    // `/renewed` deletes its posts and publishes 15 others; the new ones
    // have links of their own.
    let others = posts("/renewed-2026");
    let serve = |f: &Paged, content: &Paged, published: usize, pages: usize| {
        let feed = format!("{}/feed/", f.dir);
        server.set(
            &feed,
            Route::feed(wordpress(content.document(published, 1, base, None)), RSS),
        );
        for p in 2..=pages {
            server.set(
                &format!("{feed}?paged={p}"),
                Route::feed(wordpress(content.document(published, p, base, None)), RSS),
            );
        }
        for p in pages + 1..=pages + 3 {
            server.set(&format!("{feed}?paged={p}"), Route::status(404));
        }
    };
    let url = |f: &Paged| server.url(&format!("{}/feed/", f.dir));
    for f in [&wp, &renewed, &ignoring] {
        serve(f, f, 10, 1);
    }
    let config = TestConfig::new()
        .feed("ووردبريس", &url(&wp))
        .feed("متجدد", &url(&renewed))
        .feed("يتجاهل", &url(&ignoring))
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    for f in [&wp, &renewed, &ignoring] {
        assert_eq!(new_of(&poll_url(&ctx, &config, &url(f)).await), 10);
    }
    let asked = |f: &Paged| -> Vec<String> {
        server
            .requests_for(&format!("{}/feed/", f.dir))
            .into_iter()
            .filter_map(|q| q.query)
            .collect()
    };
    assert!(asked(&wp).is_empty(), "a first poll pages nothing");

    serve(&wp, &wp, 35, 4);
    serve(&renewed, &others, 15, 2);
    // Ignores `paged`: every query gets page 1.
    serve(&ignoring, &ignoring, 35, 1);
    for p in 2..=4 {
        server.set(
            &format!("/ignoring/feed/?paged={p}"),
            Route::feed(wordpress(ignoring.document(35, 1, base, None)), RSS),
        );
    }
    advance_to(&clock, t0() + Minutes::minutes(15));

    let r = poll_url(&ctx, &config, &url(&wp)).await;
    let rec = recovery(&r);
    assert_eq!((rec.pages, rec.entries, rec.overlap), (2, 15, true), "{rec:?}");
    assert_eq!(asked(&wp), ["paged=2", "paged=3"]);
    let items = stored(&ctx.store);
    for i in 0..35 {
        assert_eq!(items[&wp.link(i)], (Paged::title(i), 1), "entry {i}");
    }

    let r = poll_url(&ctx, &config, &url(&renewed)).await;
    let rec = recovery(&r);
    assert_eq!((rec.pages, rec.entries, rec.overlap), (1, 5, false), "{rec:?}");
    assert!(
        rec.stopped
            .as_deref()
            .unwrap()
            .contains("is past the feed's last page (HTTP 404)"),
        "{rec:?}"
    );
    assert_eq!(new_of(&r), 15);

    let r = poll_url(&ctx, &config, &url(&ignoring)).await;
    let rec = recovery(&r);
    assert_eq!((rec.pages, rec.overlap), (0, false), "{rec:?}");
    assert!(
        rec.stopped
            .as_deref()
            .unwrap()
            .contains("is a document read already"),
        "{rec:?}"
    );
    assert_eq!(asked(&ignoring), ["paged=2"]);
    let note = state(&ctx, &url(&ignoring)).last_gap_note.unwrap();
    assert!(note.contains("may still have been missed"), "{note}");
}
