//! A feed URL that answers with a web page: the feed its head links is
//! found, fetched in the same poll, remembered and polled directly, and
//! read again from the page when it fails; a page without a feed link, or
//! one linking another page, is a clear error.

use std::sync::Arc;

use feedwire::clock::ManualClock;
use feedwire::poller::Outcome;
use feedwire::store::Store;
use url::Url;

use crate::poller::{advance_to, context, poll_url, start, state, status_of, t0};
use crate::support::*;

const RSS: &str = "application/rss+xml";

/// The path `href` resolves to from `page` (Arabic segments percent-encoded
/// as UTF-8, as the poller sends them).
fn path_from(page: &str, href: &str) -> String {
    Url::parse(page).unwrap().join(href).unwrap().path().to_owned()
}

/// The windows-1256 page (charset declared only in `<meta>`), its body
/// padded past `len` bytes so that only its head fits under the body cap.
fn arabic_page(len: usize) -> Vec<u8> {
    let page = fixture("discover/page_cp1256.html");
    let main = page.windows(6).position(|w| w == b"<main>").unwrap() + 6;
    let story = &page[main..page.windows(7).position(|w| w == b"</main>").unwrap()];
    let mut out = page[..main].to_vec();
    while out.len() < len {
        out.extend_from_slice(story);
    }
    out.extend_from_slice(&page[main..]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arabic_page_names_its_feed_which_is_polled_from_then_on() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // No charset in the header: the page says windows-1256 in its head. The
    // whole page is over the body cap; its head is not.
    let page = server.route(
        "/ar/news/",
        Route::feed(arabic_page(256 * 1024), "text/html").delivery(Delivery::Chunked),
    );
    // Relative hrefs in Arabic: the comments feed first, then the site's.
    let comments = path_from(&page, "تعليقات/rss.xml");
    let site = path_from(&page, "أخبار/rss.xml");
    assert_eq!(site, "/ar/news/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1/rss.xml");
    server.serve_fixture(&comments, "youm7_cp1256.xml", RSS);
    let feed_url = server.serve_fixture(&site, "aljazeera_rss2.xml", RSS);
    let config = TestConfig::new()
        .poll("max_body", "\"64KiB\"")
        .feed("الجزيرة نت", &page)
        .load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let (daemon, mut reports) = start(&server, config.clone(), &clock).await;
    let r = reports.of(&page).await;
    match &r.outcome {
        Outcome::Updated { ingest, .. } => assert_eq!(ingest.new, 3, "{r:?}"),
        other => panic!("{other:?}"),
    }
    let s = status_of(&daemon, &page).await;
    assert_eq!(s.state, "ok", "{s:?}");
    assert_eq!(s.discovered_feed.as_deref(), Some(feed_url.as_str()), "{s:?}");
    assert_eq!(s.last_error, None);
    assert_eq!(s.title.as_deref(), Some("الجزيرة نت - سياسة"));
    assert_eq!(s.charset.as_deref(), Some("UTF-8"));
    let body = get_bytes(&format!("http://{}/politics.rss", daemon.addr)).await;
    let (_, titles) = entries_of(&body);
    assert!(
        titles.iter().any(|t| t == "وزير الخارجية يزور القاهرة"),
        "{titles:?}"
    );
    assert_eq!(server.requests_to("/ar/news/"), 1);
    assert_eq!(server.requests_to(&site), 1);
    assert_eq!(server.requests_to(&comments), 0, "the comments feed was chosen");

    // The next poll goes to the feed, not the page.
    advance_to(&clock, r.next_due.unwrap());
    let r = reports.of(&page).await;
    assert!(!matches!(r.outcome, Outcome::Failed { .. }), "{r:?}");
    assert_eq!(server.requests_to("/ar/news/"), 1);
    assert_eq!(server.requests_to(&site), 2);
    let due = r.next_due.unwrap();
    daemon.shutdown().await.unwrap();

    // So does the first poll after a restart on the same store.
    let (daemon, mut reports) = start(&server, config, &clock).await;
    assert_eq!(
        status_of(&daemon, &page).await.discovered_feed.as_deref(),
        Some(feed_url.as_str())
    );
    advance_to(&clock, due);
    let r = reports.of(&page).await;
    assert!(!matches!(r.outcome, Outcome::Failed { .. }), "{r:?}");
    assert_eq!(server.requests_to("/ar/news/"), 1);
    assert_eq!(server.requests_to(&site), 3);
    daemon.shutdown().await.unwrap();
}

/// A page in WordPress's shape: the comments feed named before the site's.
const WORDPRESS: &str = r#"<!DOCTYPE html>
<html lang="ar" dir="rtl"><head><meta charset="UTF-8">
<title>مدونة الأخبار</title>
<link rel="alternate" type="application/rss+xml" title="مدونة الأخبار &raquo; Comments Feed" href="/blog/comments/feed/" />
<link rel="alternate" type="application/rss+xml" title="مدونة الأخبار &raquo; الخلاصة" href="/blog/feed/" />
<link rel="alternate" type="application/json+oembed" href="/wp-json/oembed/1.0/embed?url=x&amp;format=json" />
</head><body><p>مرحبا</p></body></html>"#;

const NO_LINK: &str = "<!DOCTYPE html><html lang=\"ar\" dir=\"rtl\"><head><meta charset=\"utf-8\"><title>الصفحة الرئيسية</title><link rel=\"stylesheet\" href=\"/s.css\"></head><body><h1>مرحبا</h1></body></html>";

fn page_linking(href: &str) -> String {
    format!(
        "<html><head><title>صفحة</title><link rel=\"alternate\" type=\"application/atom+xml\" href=\"{href}\"></head><body></body></html>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_follows_pages_and_names_pages_without_feeds() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let blog = server.route(
        "/blog/",
        Route::feed(WORDPRESS.into(), "text/html; charset=UTF-8"),
    );
    server.serve_fixture("/blog/feed/", "aljazeera_rss2.xml", RSS);
    server.serve_fixture("/blog/comments/feed/", "youm7_cp1256.xml", RSS);
    let bare = server.route("/home", Route::feed(NO_LINK.into(), "text/html; charset=utf-8"));
    // A page whose feed link is a page linking the first: one hop only.
    let loop_a = server.route(
        "/loop/a.html",
        Route::feed(page_linking("b.html").into(), "text/html"),
    );
    server.set(
        "/loop/b.html",
        Route::feed(page_linking("a.html").into(), "text/html"),
    );
    let plain = server.serve_fixture("/plain.xml", "example_atom.xml", "application/atom+xml");
    // No Content-Type: the markup says it is a page.
    let untyped = server.route("/untyped", Route::feed(page_linking("/rdf.xml").into(), ""));
    let rdf = server.serve_fixture("/rdf.xml", "wire_rdf.xml", "application/rdf+xml");
    // An app's page whose head tags are streamed into its body.
    let app = server.route(
        "/app",
        Route::feed(
            format!(
                "<!DOCTYPE html><html><head><script src=\"/a.js\"></script></head><body><div id=\"root\"></div>{}<link rel=\"alternate\" type=\"application/atom+xml\" href=\"/plain.xml\"/><p>{}</p></body></html>",
                "<p>خبر</p>".repeat(2000),
                "<p>خبر</p>".repeat(20_000)
            )
            .into(),
            "text/html; charset=utf-8",
        )
        .delivery(Delivery::Chunked),
    );
    let config = TestConfig::new()
        .poll("max_body", "\"256KiB\"")
        .feed("app", &app)
        .feed("untyped", &untyped)
        .feed("مدونة", &blog)
        .feed("الرئيسية", &bare)
        .feed("loop", &loop_a)
        .feed("plain", &plain)
        .write(dir.path());
    let out = Binary::cli(&["poll-once", "--config"], &[&config]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let warned = stderr
        .lines()
        .find(|l| l.contains("feeds.toml names a web page") && l.contains(&format!("url={blog} ")))
        .unwrap_or_else(|| panic!("no warning: {stderr}"));
    let found = server.url("/blog/feed/");
    assert!(
        warned.contains(&format!(
            "polling the feed it links, {found}: put {found} in feeds.toml"
        )),
        "{warned}"
    );
    assert!(warned.contains(&blog), "{warned}");
    assert!(stderr.contains("with no feed link in its head"), "{stderr}");

    let store = Store::open(&dir.path().join("data")).unwrap();
    let st = |url: &str| store.feed_state(url).unwrap().unwrap();
    assert_eq!(st(&blog).discovered_feed.as_deref(), Some(found.as_str()));
    assert_eq!(st(&blog).last_error, None);
    assert_eq!(st(&blog).items_seen, 3);
    assert_eq!(server.requests_to("/blog/comments/feed/"), 0);
    assert_eq!(server.requests_to("/wp-json/oembed/1.0/embed"), 0);
    let error = st(&bare).last_error.unwrap();
    assert_eq!(
        error,
        format!("{bare} is a web page (text/html) with no feed link in its head: put the feed's URL in feeds.toml")
    );
    assert_eq!(st(&bare).discovered_feed, None);
    let error = st(&loop_a).last_error.unwrap();
    assert!(
        error.contains("is a web page too: not followed further"),
        "{error}"
    );
    assert_eq!(st(&loop_a).discovered_feed, None);
    assert_eq!(server.requests_to("/loop/a.html"), 1);
    assert_eq!(server.requests_to("/loop/b.html"), 1);
    // Found after the head, though the whole page is over the body cap.
    assert_eq!(st(&app).discovered_feed.as_deref(), Some(plain.as_str()));
    assert_eq!(st(&untyped).discovered_feed.as_deref(), Some(rdf.as_str()));
    assert_eq!(st(&untyped).last_error, None);
    // The other feeds went on. (`app` polls the same document in the same
    // round: whichever stores it first has its items new, the other finds
    // them stored, so only what was read is certain.)
    assert_eq!(st(&plain).last_error, None);
    assert!(st(&plain).items_seen > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_feed_that_fails_sends_the_poll_back_to_the_page() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let page = server.route(
        "/section",
        Route::feed(page_linking("/v1.xml").into(), "text/html"),
    );
    let v1 = server.serve_fixture("/v1.xml", "aljazeera_rss2.xml", RSS);
    let config = TestConfig::new().feed("section", &page).load(dir.path());
    let clock = Arc::new(ManualClock::new(t0()));
    let ctx = context(&config, &clock);
    let r = poll_url(&ctx, &config, &page).await;
    assert!(matches!(r.outcome, Outcome::Updated { .. }), "{r:?}");
    assert_eq!(state(&ctx, &page).discovered_feed.as_deref(), Some(v1.as_str()));
    let r = poll_url(&ctx, &config, &page).await;
    assert_eq!(r.outcome, Outcome::NotModified);
    assert_eq!(
        (server.requests_to("/section"), server.requests_to("/v1.xml")),
        (1, 2)
    );

    // The publisher moves its feed again: the old one is 404, the page
    // names the new one, found in the same poll.
    server.set("/v1.xml", Route::status(404));
    server.set(
        "/section",
        Route::feed(page_linking("/v2.xml").into(), "text/html"),
    );
    let v2 = server.serve_fixture("/v2.xml", "youm7_cp1256.xml", "text/xml");
    let r = poll_url(&ctx, &config, &page).await;
    assert!(matches!(r.outcome, Outcome::Updated { .. }), "{r:?}");
    assert_eq!(state(&ctx, &page).discovered_feed.as_deref(), Some(v2.as_str()));
    assert_eq!(
        (server.requests_to("/section"), server.requests_to("/v2.xml")),
        (2, 1)
    );

    // The new one turns into a page (linking nothing): back to the page,
    // which still names it: an error, and no loop.
    server.set("/v2.xml", Route::feed(NO_LINK.into(), "text/html"));
    let r = poll_url(&ctx, &config, &page).await;
    let Outcome::Failed { error } = &r.outcome else {
        panic!("{r:?}")
    };
    assert!(error.contains("is a web page too"), "{error}");
    assert_eq!(
        (server.requests_to("/section"), server.requests_to("/v2.xml")),
        (3, 3)
    );
    assert_eq!(state(&ctx, &page).discovered_feed, None);

    // The configured URL serves a feed again: it is polled as one.
    server.serve_fixture("/section", "aljazeera_rss2.xml", RSS);
    let r = poll_url(&ctx, &config, &page).await;
    assert!(!matches!(r.outcome, Outcome::Failed { .. }), "{r:?}");
    assert_eq!(state(&ctx, &page).discovered_feed, None);
    assert_eq!(server.requests_to("/v2.xml"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_command_prints_the_links_a_page_names() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let no_config = dir.path().join("none.toml");
    let blog = server.route(
        "/blog/",
        Route::feed(WORDPRESS.into(), "text/html; charset=UTF-8"),
    );
    let bare = server.route("/home", Route::feed(NO_LINK.into(), "text/html"));
    let run = |url: &str| {
        let out = Binary::cli(
            &["discover", "--allow-private-networks", url, "--config"],
            &[&no_config],
        );
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, stdout, stderr) = run(&blog);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "  {}\tapplication/rss+xml\tمدونة الأخبار » Comments Feed",
                server.url("/blog/comments/feed/")
            ),
            format!(
                "* {}\tapplication/rss+xml\tمدونة الأخبار » الخلاصة",
                server.url("/blog/feed/")
            ),
        ],
        "{stdout}"
    );
    let (code, _, stderr) = run(&bare);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("with no feed link in its head"), "{stderr}");
    let (code, _, stderr) = run("ftp://127.0.0.1/feed");
    assert_eq!(code, Some(2), "{stderr}");
}
