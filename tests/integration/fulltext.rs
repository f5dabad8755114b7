//! `full_text = true` end to end: a feed whose items carry a teaser, their
//! article pages on the same local server, the daemon in-process. What is
//! checked is what subscribers get (`politics.json`) and what operators see
//! (`/status.json`), plus the server's request log (each page fetched once).

use std::sync::Arc;
use std::time::Duration;

use feedwire::app::Daemon;
use feedwire::clock::ManualClock;
use serde_json::Value;

use crate::poller::status_of;
use crate::support::*;

const TEASER: &str = "التفاصيل بعد قليل..";

/// An RSS feed with one item per link, each with the one-line teaser.
fn teaser_feed(links: &[(String, &str)]) -> Vec<u8> {
    let items: String = links
        .iter()
        .map(|(link, title)| {
            format!(
                "<item><title>{title}</title><link>{link}</link><description>{TEASER}</description></item>"
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>سياسة</title><link>https://www.aljazeera.net/</link><description>x</description>{items}</channel></rss>"#
    )
    .into_bytes()
}

fn page(name: &str) -> Vec<u8> {
    fixture(&format!("fulltext/{name}"))
}

/// The items of the published JSON feed, by URL.
fn items_by_url(daemon: &Daemon) -> Vec<(String, String, String)> {
    let Some(doc) = daemon.published().get("politics.json") else {
        return Vec::new();
    };
    let v: Value = serde_json::from_slice(&doc.body).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["url"].as_str().unwrap_or_default().to_owned(),
                i["content_html"].as_str().unwrap_or_default().to_owned(),
                i["summary"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn content_of(daemon: &Daemon, url: &str) -> Option<String> {
    items_by_url(daemon)
        .into_iter()
        .find(|(u, _, _)| u == url)
        .map(|(_, c, _)| c)
}

/// Waits (bounded) until a render satisfies `ok`.
async fn wait_render(daemon: &Daemon, what: &str, ok: impl Fn() -> bool) {
    let published = daemon.published();
    let mut renders = published.subscribe();
    tokio::time::timeout(WAIT, renders.wait_for(|_| ok()))
        .await
        .unwrap_or_else(|_| panic!("no render with {what} within {WAIT:?}"))
        .unwrap();
}

/// The two Arabic article pages most tests link: the Cairo story (UTF-8,
/// with share debris) and a windows-1256 page whose charset is only in its
/// `<meta>`.
fn arabic_articles(server: &FeedServer) -> (String, String) {
    let cairo = server.route(
        "/news/cairo",
        Route::feed(page("cairo-visit.html"), "text/html; charset=utf-8"),
    );
    let delta = server.route(
        "/news/delta",
        Route::feed(page("arabic-windows-1256.html"), "text/html"),
    );
    (cairo, delta)
}

/// [`arabic_articles`] and a teaser feed at `/rss` linking both: (cairo,
/// delta, feed).
fn arabic_teaser_feed(server: &FeedServer) -> (String, String, String) {
    let (cairo, delta) = arabic_articles(server);
    let feed = server.route(
        "/rss",
        Route::feed(
            teaser_feed(&[(cairo.clone(), "زيارة القاهرة"), (delta.clone(), "خطة الدلتا")]),
            "application/rss+xml",
        ),
    );
    (cairo, delta, feed)
}

/// A feed's own `user_agent` fetches its article pages too: a site that
/// refuses unknown clients refuses them on its pages as on its feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feeds_own_user_agent_fetches_its_articles() {
    let server = FeedServer::start().await;
    let (cairo, _, feed) = arabic_teaser_feed(&server);
    let dir = tempfile::tempdir().unwrap();
    let agent = "Mozilla/5.0 (compatible; feedwire-test)";
    let config = TestConfig::new().feed_with(
        "الجزيرة",
        &feed,
        &[("full_text", "true"), ("user_agent", &format!("{agent:?}"))],
    );
    let daemon = Daemon::start(config.load(dir.path())).await.unwrap();
    wait_render(&daemon, "the article", || {
        content_of(&daemon, &cairo).is_some_and(|c| c.contains("وصل صدام حفتر"))
    })
    .await;
    for path in ["/rss", "/news/cairo"] {
        let seen = server.requests_for(path);
        let agents: Vec<_> = seen.iter().map(|r| r.user_agent.as_deref()).collect();
        assert!(
            !agents.is_empty() && agents.iter().all(|a| *a == Some(agent)),
            "{path}: {agents:?}"
        );
    }
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_replace_teasers_once_and_survive_restart() {
    let server = FeedServer::start().await;
    let (cairo, delta, feed) = arabic_teaser_feed(&server);
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new().feed_with("الجزيرة", &feed, &[("full_text", "true")]);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let daemon = Daemon::start_with_clock(config.load(dir.path()), clock.clone())
        .await
        .unwrap();

    wait_render(&daemon, "both articles", || {
        content_of(&daemon, &cairo).is_some_and(|c| c.contains("وصل صدام حفتر"))
            && content_of(&daemon, &delta).is_some_and(|c| c.contains("أعلنت وزارة الزراعة"))
    })
    .await;
    let items = items_by_url(&daemon);
    let (_, content, summary) = items.iter().find(|(u, _, _)| *u == cairo).unwrap();
    assert!(content.starts_with("<div dir=\"rtl\" lang=\"ar\">"), "{content}");
    assert!(
        content.contains(&format!("المصدر: <a href=\"{cairo}\">الجزيرة نت</a>")),
        "{content}"
    );
    assert!(content.contains("<figcaption>"), "{content}");
    for debris in ["حصة", "Pinterest", "زوروا موقعنا", "اضغط هنا"] {
        assert!(!content.contains(debris), "{debris:?} in {content}");
    }
    // The feed's own summary stays the summary.
    assert!(summary.contains(TEASER), "{summary}");
    let (_, content, _) = items.iter().find(|(u, _, _)| *u == delta).unwrap();
    assert!(
        content.contains("المصدر: <a href=") && content.contains("أخبار الوادي"),
        "{content}"
    );

    // Pages are fetched with the feed polls' User-Agent.
    let seen = server.requests();
    let agent_of = |path: &str| {
        seen.iter()
            .find(|r| r.path == path)
            .and_then(|r| r.user_agent.clone())
    };
    assert!(
        agent_of("/rss").is_some_and(|ua| ua.starts_with("feedwire/")),
        "{seen:?}"
    );
    assert_eq!(agent_of("/news/cairo"), agent_of("/rss"));

    let status = status_of(&daemon, &feed).await;
    let ft = status.full_text.expect("full_text counts in /status.json");
    assert_eq!((ft.extracted, ft.failed, ft.fallback), (2, 0, 0), "{ft:?}");
    let metrics = http_client()
        .get(format!("http://{}/metrics", daemon.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("feedwire_full_text_items{feed=\"الجزيرة\",result=\"extracted\"} 2"),
        "{metrics}"
    );
    daemon.shutdown().await.unwrap();

    // A restart with a changed feed: the old items are known, their pages
    // are not fetched again, and their articles are still published.
    let third = server.route("/news/third", Route::feed(page("cairo-visit.html"), "text/html"));
    server.set(
        "/rss",
        Route::feed(
            teaser_feed(&[
                (cairo.clone(), "زيارة القاهرة"),
                (delta.clone(), "خطة الدلتا"),
                (third.clone(), "ثالث"),
            ]),
            "application/rss+xml",
        ),
    );
    // Past the feed's interval, so the restarted daemon polls it.
    clock.advance(Duration::from_secs(16 * 60));
    let daemon = Daemon::start_with_clock(config.load(dir.path()), clock.clone())
        .await
        .unwrap();
    wait_render(&daemon, "the third article", || {
        content_of(&daemon, &third).is_some_and(|c| c.contains("وصل صدام حفتر"))
    })
    .await;
    assert!(content_of(&daemon, &cairo).unwrap().contains("وصل صدام حفتر"));
    assert_eq!(server.requests_to("/news/cairo"), 1);
    assert_eq!(server.requests_to("/news/delta"), 1);
    assert_eq!(server.requests_to("/news/third"), 1);
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_article_is_published_with_the_teaser_then_updated() {
    let server = FeedServer::start().await;
    let slow = server.route(
        "/news/slow",
        Route::feed(page("cairo-visit.html"), "text/html").delay(Duration::from_secs(5)),
    );
    let feed = server.route(
        "/rss",
        Route::feed(
            teaser_feed(&[(slow.clone(), "زيارة القاهرة")]),
            "application/rss+xml",
        ),
    );
    let other = server.serve_fixture("/other.xml", "aljazeera_rss2.xml", "application/rss+xml");
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new()
        .feed_with(
            "الجزيرة",
            &feed,
            &[("full_text", "true"), ("full_text_timeout", "\"1s\"")],
        )
        .feed("other", &other);
    let daemon = Daemon::start(config.load(dir.path())).await.unwrap();

    // Other feeds never wait; the slow item is held, then published with
    // the teaser while its page is still on the way.
    wait_render(&daemon, "the held item with its teaser", || {
        content_of(&daemon, &slow).is_some_and(|c| c.contains(TEASER))
    })
    .await;
    assert_eq!(server.requests_to("/news/slow"), 1);
    assert!(
        items_by_url(&daemon).len() > 1,
        "the other feed's items are out too"
    );
    let ft = status_of(&daemon, &feed).await.full_text.unwrap();
    assert_eq!(ft.fallback, 1, "{ft:?}");

    wait_render(&daemon, "the late article", || {
        content_of(&daemon, &slow).is_some_and(|c| c.contains("وصل صدام حفتر"))
    })
    .await;
    let ft = status_of(&daemon, &feed).await.full_text.unwrap();
    assert_eq!((ft.extracted, ft.fallback, ft.failed), (1, 1, 0), "{ft:?}");
    daemon.shutdown().await.unwrap();
}

/// A feed that already carries the whole story (`content:encoded`) and
/// links a page that shows only its first paragraph behind a login
/// prompt: the fragment is not published, the feed's content stays, and
/// operators see why. Beside it, a teaser item of the same feed gets its
/// article.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragment_shorter_than_the_feeds_content_is_not_published() {
    let server = FeedServer::start().await;
    let paragraphs = [
        "أعلنت وزارة النقل اليوم تشغيل خط جديد للحافلات الكهربائية بين وسط العاصمة والمطار اعتبارا من الأسبوع المقبل.",
        "وقال الوزير إن الخط يضم عشرين حافلة تعمل على مدار الساعة بتذكرة موحدة يمكن شراؤها عبر تطبيق الهاتف.",
        "وأضاف أن الوزارة تدرس مد الخط إلى المدينة الجامعية في المرحلة الثانية إذا نجحت التجربة خلال الأشهر الستة الأولى.",
        "ورحب سكان الأحياء الشرقية بالقرار، لكنهم طالبوا بزيادة عدد المحطات على الطريق الدائري الذي يمر بأحيائهم.",
    ];
    let full: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
    let fragment = format!(
        r#"<html lang="ar"><head><title>حافلات كهربائية إلى المطار</title></head><body>
        <nav><a href="/">الرئيسية</a> <a href="/news">أخبار</a></nav>
        <article><h1>حافلات كهربائية إلى المطار</h1><p>{}</p>
        <div class="login-prompt"><p>سجل الدخول لمتابعة القراءة</p></div></article></body></html>"#,
        paragraphs[0]
    );
    let gated = server.route(
        "/news/buses",
        Route::feed(fragment.into_bytes(), "text/html; charset=utf-8"),
    );
    let cairo = server.route(
        "/news/cairo",
        Route::feed(page("cairo-visit.html"), "text/html; charset=utf-8"),
    );
    let rss = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>سياسة</title><link>https://transport.example/</link><description>x</description>
        <item><title>حافلات كهربائية إلى المطار</title><link>{gated}</link><description>{TEASER}</description><content:encoded><![CDATA[{full}]]></content:encoded></item>
        <item><title>زيارة القاهرة</title><link>{cairo}</link><description>{TEASER}</description></item>
        </channel></rss>"#
    );
    let feed = server.route("/rss", Route::feed(rss.into_bytes(), "application/rss+xml"));
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new().feed_with("النقل", &feed, &[("full_text", "true")]);
    let daemon = Daemon::start(config.load(dir.path())).await.unwrap();
    wait_render(&daemon, "the article and the feed's own content", || {
        content_of(&daemon, &cairo).is_some_and(|c| c.contains("وصل صدام حفتر"))
            && content_of(&daemon, &gated).is_some_and(|c| c.contains(paragraphs[3]))
    })
    .await;
    let ft = status_of(&daemon, &feed).await.full_text.unwrap();
    assert_eq!((ft.extracted, ft.failed), (1, 1), "{ft:?}");
    let error = ft.last_error.unwrap_or_default();
    assert!(error.contains("shorter than the feed's own content"), "{error}");
    let content = content_of(&daemon, &gated).unwrap();
    assert!(!content.contains("سجل الدخول"), "{content}");
    assert!(!content.contains("المصدر:"), "{content}");
    assert_eq!(server.requests_to("/news/buses"), 1);
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_article_pages_fail_cleanly_and_keep_the_teaser() {
    let server = FeedServer::start().await;
    let good = server.route("/news/good", Route::feed(page("cairo-visit.html"), "text/html"));
    let huge = server.route(
        "/news/huge",
        Route::feed(Vec::new(), "text/html").delivery(Delivery::Sized(50 * 1024 * 1024)),
    );
    let endless = server.route(
        "/news/endless",
        Route::feed(b"<p>".repeat(1024), "text/html").delivery(Delivery::Endless),
    );
    let png = server.route(
        "/news/photo",
        Route::feed(b"\x89PNG\r\n\x1a\n0000".to_vec(), "image/png"),
    );
    let loop_a = server.url("/news/loop-a");
    server.set("/news/loop-a", Route::redirect(302, "/news/loop-b"));
    server.set("/news/loop-b", Route::redirect(302, "/news/loop-a"));
    let missing = server.url("/news/missing");
    let feed_url = server.url("/rss");
    let links = [
        (good.clone(), "جيد"),
        (huge.clone(), "ضخم"),
        (endless.clone(), "بلا نهاية"),
        (png.clone(), "صورة"),
        (loop_a.clone(), "حلقة"),
        (missing.clone(), "مفقود"),
        (feed_url.clone(), "الموجز نفسه"),
    ];
    server.set("/rss", Route::feed(teaser_feed(&links), "application/rss+xml"));
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new().poll("max_body", "\"1MiB\"").feed_with(
        "hostile",
        &feed_url,
        &[("full_text", "true")],
    );
    let daemon = Daemon::start(config.load(dir.path())).await.unwrap();

    wait_render(&daemon, "every item settled", || {
        let items = items_by_url(&daemon);
        items.len() == links.len()
            && items.iter().all(|(u, c, _)| {
                if *u == good {
                    c.contains("وصل صدام حفتر")
                } else {
                    c.contains(TEASER)
                }
            })
    })
    .await;
    // Outcomes are stored before the render they trigger: final counts.
    let ft = status_of(&daemon, &feed_url).await.full_text.unwrap();
    assert_eq!((ft.extracted, ft.failed), (1, 6), "{ft:?}");
    assert!(ft.last_error.is_some());
    // The endless body was cut at the cap, not read forever.
    assert!(
        server.endless_sent() < 64 * 1024 * 1024,
        "{}",
        server.endless_sent()
    );
    // The feed's own URL is never fetched as an article (one poll only).
    assert_eq!(server.requests_to("/rss"), 1);
    assert!(http_client()
        .get(format!("http://{}/healthz", daemon.addr))
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    daemon.shutdown().await.unwrap();
}

/// A site whose pages answer 503 backs off, and the backoff is stored: a
/// restarted daemon (a second opening of the store) does not fetch another
/// page of that site until the backoff is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_site_backoff_survives_restart() {
    let server = FeedServer::start().await;
    let down = server.route("/news/down", Route::status(503));
    let later = server.route("/news/later", Route::status(503));
    let first = server.route(
        "/rss",
        Route::feed(teaser_feed(&[(down.clone(), "معطل")]), "application/rss+xml"),
    );
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let config = TestConfig::new().feed_with("أولى", &first, &[("full_text", "true")]);
    let daemon = Daemon::start_with_clock(config.load(dir.path()), clock.clone())
        .await
        .unwrap();
    wait_render(&daemon, "the failed item with its teaser", || {
        content_of(&daemon, &down).is_some_and(|c| c.contains(TEASER))
    })
    .await;
    let ft = status_of(&daemon, &first).await.full_text.unwrap();
    assert_eq!(ft.failed, 1, "{ft:?}");
    assert!(
        ft.last_error.as_deref().is_some_and(|e| e.contains("503")),
        "{ft:?}"
    );
    daemon.shutdown().await.unwrap();

    // Restarted within the backoff, with a second feed of the same site:
    // its page is not fetched, and the status says why.
    let second = server.route(
        "/rss2",
        Route::feed(teaser_feed(&[(later.clone(), "لاحقا")]), "application/rss+xml"),
    );
    let config = config.feed_with("ثانية", &second, &[("full_text", "true")]);
    clock.advance(Duration::from_secs(30));
    let daemon = Daemon::start_with_clock(config.load(dir.path()), clock.clone())
        .await
        .unwrap();
    wait_render(&daemon, "the second feed's item", || {
        content_of(&daemon, &later).is_some_and(|c| c.contains(TEASER))
    })
    .await;
    assert_eq!(server.requests_to("/news/later"), 0);
    assert_eq!(server.requests_to("/news/down"), 1);
    let ft = status_of(&daemon, &second).await.full_text.unwrap();
    assert_eq!(ft.failed, 1, "{ft:?}");
    assert!(
        ft.last_error
            .as_deref()
            .is_some_and(|e| e.contains("backing off after 1 failed")),
        "{ft:?}"
    );
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn article_fetches_share_the_per_host_limit_with_polls() {
    let server = FeedServer::start().await;
    let links: Vec<(String, &str)> = (0..4)
        .map(|i| {
            let route = Route::feed(page("cairo-visit.html"), "text/html").delay(Duration::from_millis(200));
            (server.route(&format!("/news/{i}"), route), "خبر")
        })
        .collect();
    let feed = server.route("/rss", Route::feed(teaser_feed(&links), "application/rss+xml"));
    let dir = tempfile::tempdir().unwrap();
    let config =
        TestConfig::new()
            .poll("per_host", "1")
            .feed_with("الجزيرة", &feed, &[("full_text", "true")]);
    let daemon = Daemon::start(config.load(dir.path())).await.unwrap();
    wait_render(&daemon, "all four articles", || {
        links
            .iter()
            .all(|(l, _)| content_of(&daemon, l).is_some_and(|c| c.contains("وصل صدام حفتر")))
    })
    .await;
    assert_eq!(server.max_in_flight(), 1, "one request at a time to the host");
    daemon.shutdown().await.unwrap();
}

/// Article fetches obey the feed's `allow_private_networks`: with it off, a
/// link to a loopback address is refused before any connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_article_addresses_are_refused() {
    use feedwire::fetch::Fetcher;
    use feedwire::fulltext::{start, Job};
    use feedwire::item::ItemKey;
    use feedwire::poller::PollContext;
    use feedwire::store::Store;

    let server = FeedServer::start().await;
    let article = server.route("/news/inside", Route::feed(page("cairo-visit.html"), "text/html"));
    let dir = tempfile::tempdir().unwrap();
    let feed_url = "https://news.example/rss";
    let mut config = TestConfig::new()
        .feed_with("public", feed_url, &[("full_text", "true")])
        .load(dir.path());
    config.feeds[0].allow_private_networks = false;
    let store = Store::open(&config.storage.path).unwrap();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let ctx = PollContext::new(store.clone(), Fetcher::new(&config.poll).unwrap(), clock, &config);
    let changed = Arc::new(tokio::sync::Notify::new());
    let cancel = tokio_util::sync::CancellationToken::new();
    let tx = start(ctx.clone(), &config, changed.clone(), cancel.clone());

    let link = url::Url::parse(&article).unwrap();
    let key = ItemKey::from_link(&link);
    let hold_until = chrono::Utc::now().timestamp() + 3600;
    assert!(store.claim_full_text(&key, feed_url, hold_until).unwrap());
    assert!(
        !store.claim_full_text(&key, feed_url, hold_until).unwrap(),
        "claimed once"
    );
    assert!(store.full_text_held().unwrap().contains(&key));
    assert!(
        tx.send(Job {
            key: key.clone(),
            link,
            feed: config.feeds[0].clone().into(),
            hold_until,
            ctx: ctx.into(),
        }),
        "the task takes jobs"
    );
    tokio::time::timeout(WAIT, changed.notified())
        .await
        .expect("the job ends");
    let stats = store.full_text_stats(feed_url).unwrap();
    assert_eq!((stats.extracted, stats.failed), (0, 1), "{stats:?}");
    let error = stats.last_error.unwrap();
    assert!(error.contains("private or local address"), "{error}");
    assert_eq!(server.requests_to("/news/inside"), 0);
    assert!(!store.full_text_held().unwrap().contains(&key), "released");
    cancel.cancel();
}

/// `feedwire extract URL` prints what would be published; exit 1 when the
/// page gives no article, 2 for a bad selector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_command_prints_the_article() {
    let server = FeedServer::start().await;
    let article = server.route("/news/cairo", Route::feed(page("cairo-visit.html"), "text/html"));
    let photo = server.route("/news/photo", Route::feed(b"\x89PNG....".to_vec(), "image/png"));
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new()
        .feed("x", "https://news.example/rss")
        .write(dir.path());
    let run = |args: Vec<String>| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let mut all: Vec<&str> = vec!["--config"];
            let c = config.to_str().unwrap().to_owned();
            all.push(&c);
            all.extend(args.iter().map(String::as_str));
            Binary::cli(&all, &[])
        })
    };
    let out = run(vec!["extract".into(), article.clone()]).await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("title: صدام حفتر يزور القاهرة"), "{stdout}");
    assert!(stdout.contains("\nbyline: "), "{stdout}");
    assert!(stdout.contains("\nlanguage: ar (rtl)\n"), "{stdout}");
    assert!(stdout.contains("<div dir=\"rtl\" lang=\"ar\">"), "{stdout}");
    assert!(stdout.contains("المصدر: <a href="), "{stdout}");
    assert!(!stdout.contains("حصة"), "{stdout}");

    let out = run(vec![
        "extract".into(),
        "--selector".into(),
        "aside.related".into(),
        article.clone(),
    ])
    .await
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("مجلس النواب الليبي") && !stdout.contains("وصل صدام حفتر"),
        "{stdout}"
    );

    // No config file: the `[poll]` defaults (which refuse 127.0.0.1
    // unless asked).
    let missing = dir.path().join("none.toml");
    let page = article.clone();
    let out = tokio::task::spawn_blocking(move || {
        let missing = missing.to_str().unwrap().to_owned();
        Binary::cli(
            &["--config", &missing, "extract", "--allow-private-networks", &page],
            &[],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("title: صدام حفتر يزور القاهرة"),
        "{out:?}"
    );

    let out = run(vec!["extract".into(), photo]).await.unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not an HTML page (image/png)"),
        "{out:?}"
    );

    let out = run(vec![
        "extract".into(),
        "--selector".into(),
        "div[[".into(),
        article,
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// The JSON output as a fresh process would render it from the store.
/// The published content of the item with this link (it must be there).
fn published_content(items: &[(String, String)], url: &str) -> String {
    items
        .iter()
        .find(|(u, _)| u == url)
        .map(|(_, c)| c.clone())
        .unwrap_or_else(|| panic!("{url} not published: {items:?}"))
}

/// Both Arabic articles of [`arabic_articles`] are published extracted
/// (right to left, with their text), each page fetched once, and the
/// feed's counts say so.
fn assert_both_articles_published(
    config: &feedwire::config::Config,
    feed: &str,
    (cairo, delta): (&str, &str),
) {
    let items = rendered_items(config);
    let article = published_content(&items, cairo);
    assert!(article.contains("وصل صدام حفتر"), "{article}");
    assert!(article.starts_with("<div dir=\"rtl\" lang=\"ar\">"), "{article}");
    assert!(
        published_content(&items, delta).contains("أعلنت وزارة الزراعة"),
        "{items:?}"
    );
    let store = feedwire::app::open_store(config).unwrap();
    let stats = store.full_text_stats(feed).unwrap();
    assert_eq!((stats.extracted, stats.fallback), (2, 0), "{stats:?}");
}

fn rendered_items(config: &feedwire::config::Config) -> Vec<(String, String)> {
    let store = feedwire::app::open_store(config).unwrap();
    let docs = feedwire::app::render_all(config, &store).unwrap();
    let v: Value = serde_json::from_slice(&docs["politics.json"].body).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["url"].as_str().unwrap_or_default().to_owned(),
                i["content_html"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// `feedwire poll-once` (cron-style use) extracts too: new items of a
/// `full_text` feed get their articles before the render; an article that
/// is not there within `full_text_timeout` is published with the teaser
/// and its page stays queued, to land at a later run; pages fetched once
/// are never fetched again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_publishes_full_articles() {
    let server = FeedServer::start().await;
    let (cairo, delta) = arabic_articles(&server);
    let slow = server.route(
        "/news/slow",
        Route::feed(page("cairo-visit.html"), "text/html").delay(Duration::from_secs(30)),
    );
    let feed = server.route(
        "/rss",
        Route::feed(
            teaser_feed(&[
                (cairo.clone(), "زيارة القاهرة"),
                (delta.clone(), "خطة الدلتا"),
                (slow.clone(), "بطيء"),
            ]),
            "application/rss+xml",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new()
        .feed_with(
            "الجزيرة",
            &feed,
            &[("full_text", "true"), ("full_text_timeout", "\"5s\"")],
        )
        .load(dir.path());
    // 5 s: room for the two quick pages on a loaded machine; the slow one
    // answers after 30.
    let report = feedwire::app::poll_once(&config).await.unwrap();
    assert_eq!(report.totals.items_new, 3, "{report:#?}");
    assert!(
        report.rendered.iter().any(|(name, _)| name == "politics.json"),
        "{report:#?}"
    );

    let items = rendered_items(&config);
    let content = |url: &str| published_content(&items, url);
    let article = content(&cairo);
    assert!(article.contains("وصل صدام حفتر"), "{article}");
    assert!(article.starts_with("<div dir=\"rtl\" lang=\"ar\">"), "{article}");
    assert!(article.contains("الجزيرة نت</a></p></div>"), "{article}");
    assert!(content(&delta).contains("أعلنت وزارة الزراعة"));
    // Not there within the timeout: the teaser, for now.
    assert!(content(&slow).contains(TEASER));

    // The next run fetches nothing twice; the slow page is tried again.
    let report = feedwire::app::poll_once(&config).await.unwrap();
    assert_eq!(report.totals.items_new, 0, "{report:#?}");
    assert_eq!(server.requests_to("/news/cairo"), 1);
    assert_eq!(server.requests_to("/news/delta"), 1);
    assert_eq!(server.requests_to("/news/slow"), 2);
    let store = feedwire::app::open_store(&config).unwrap();
    let stats = store.full_text_stats(&feed).unwrap();
    assert_eq!((stats.extracted, stats.fallback), (2, 1), "{stats:?}");
}

/// A burst of new items larger than the in-memory queue
/// (`fulltext::QUEUE`): the jobs beyond it wait as pending claims in the
/// store and are read back; every item gets its article, and each page is
/// fetched exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_the_queue_is_read_back_and_each_page_fetched_once() {
    let n = feedwire::fulltext::QUEUE + 276;
    let server = FeedServer::start().await;
    let links: Vec<(String, &str)> = (0..n)
        .map(|i| {
            let html = format!(
                "<!doctype html><html lang=\"ar\" dir=\"rtl\"><head><meta charset=\"utf-8\"><title>خبر {i}</title></head>\
                 <body><nav><a href=\"/\">الرئيسية</a></nav><article><h1>خبر رقم {i}</h1>\
                 <p>وصل الوفد رقم {i} إلى القاهرة صباح اليوم في زيارة رسمية تستمر ثلاثة أيام، يلتقي خلالها عددا من المسؤولين.</p>\
                 <p>وقال المتحدث باسم الوفد إن المحادثات ستتناول التعاون الاقتصادي وملفات المنطقة، وإن الجانبين يأملان في اتفاق قريب.</p>\
                 </article><footer>جميع الحقوق محفوظة</footer></body></html>"
            );
            (server.route(&format!("/a/{i}"), Route::feed(html.into_bytes(), "text/html; charset=utf-8")), "خبر")
        })
        .collect();
    let feed = server.route("/rss", Route::feed(teaser_feed(&links), "application/rss+xml"));
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new()
        .poll("max_items", "5000")
        .poll("per_host", "8")
        .feed_with("الجزيرة", &feed, &[("full_text", "true")]);
    let daemon = Daemon::start(config.load(dir.path())).await.unwrap();
    let published = daemon.published();
    let mut renders = published.subscribe();
    let deadline = tokio::time::Instant::now() + 4 * WAIT;
    loop {
        let ft = status_of(&daemon, &feed).await.full_text.unwrap();
        assert_eq!(ft.failed, 0, "{ft:?}");
        if ft.extracted as usize >= n {
            assert_eq!(ft.extracted as usize, n, "each article counted once");
            break;
        }
        tokio::time::timeout_at(deadline, renders.changed())
            .await
            .unwrap_or_else(|_| panic!("{} of {n} articles extracted in {:?}", ft.extracted, 4 * WAIT))
            .unwrap();
    }
    for i in 0..n {
        assert_eq!(server.requests_to(&format!("/a/{i}")), 1, "/a/{i} fetched once");
    }
    daemon.shutdown().await.unwrap();
}

/// `poll-once` fetches article pages once its round is stored, so that a
/// cold round's extraction does not stack its memory on the polling's
/// (BENCHMARKS.md, Run 11): while another feed of the round is still being
/// fetched, and half the wait is not gone, no page is asked for; once it
/// is in, the articles are fetched and published within
/// `full_text_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_extracts_after_the_round_is_stored() {
    let news = FeedServer::start().await;
    let (cairo, delta, feed) = arabic_teaser_feed(&news);
    // Another feed of the round, held until the test lets it go.
    let other = FeedServer::start().await;
    other.hold();
    let slow_feed = other.serve_fixture("/rss", "youm7_cp1256.xml", "application/rss+xml");
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new()
        .feed_with(
            "الجزيرة",
            &feed,
            &[("full_text", "true"), ("full_text_timeout", "\"60s\"")],
        )
        .feed("بطيء", &slow_feed)
        .load(dir.path());
    let run = tokio::spawn({
        let config = config.clone();
        async move { feedwire::app::poll_once(&config).await }
    });
    news.wait_for_requests("the full-text feed polled", WAIT, |r| {
        r.iter().any(|r| r.path == "/rss")
    })
    .await;
    other
        .wait_for_requests("the other feed asked for", WAIT, |r| {
            r.iter().any(|r| r.path == "/rss")
        })
        .await;
    // A bounded look for what must not happen (the gate opens at 30 s at
    // the latest): before this change the pages were asked for as soon as
    // the first feed's items were stored.
    let early = tokio::time::timeout(
        Duration::from_secs(1),
        news.wait_for_requests("an article page", WAIT, |r| {
            r.iter().any(|r| r.path.starts_with("/news/"))
        }),
    )
    .await;
    assert!(
        early.is_err(),
        "an article page was fetched while a feed of the round was still being polled: {:?}",
        news.requests()
    );
    other.release();
    let report = tokio::time::timeout(WAIT, run).await.unwrap().unwrap().unwrap();
    assert!(report.failures.is_empty(), "{report:#?}");
    assert_eq!(news.requests_to("/news/cairo"), 1);
    assert_eq!(news.requests_to("/news/delta"), 1);
    assert_both_articles_published(&config, &feed, (&cairo, &delta));
}

/// A round slower than `full_text_timeout` still publishes full articles
/// from `poll-once`: extraction waits for the round only until half the
/// wait is gone, then runs beside it. Here a feed of the round answers
/// after the deadline; the Arabic pages (UTF-8 and windows-1256) are
/// fetched and extracted before it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_with_a_slow_round_still_extracts() {
    let news = FeedServer::start().await;
    let (cairo, delta, feed) = arabic_teaser_feed(&news);
    let other = FeedServer::start().await;
    let slow_feed = other.route(
        "/rss",
        Route::feed(fixture("youm7_cp1256.xml"), "application/rss+xml").delay(Duration::from_secs(7)),
    );
    let dir = tempfile::tempdir().unwrap();
    // 6 s: extraction may begin at 3 s, leaving 3 for two pages on a
    // loaded machine; the round lasts 7.
    let config = TestConfig::new()
        .feed_with(
            "الجزيرة",
            &feed,
            &[("full_text", "true"), ("full_text_timeout", "\"6s\"")],
        )
        .feed("بطيء", &slow_feed)
        .load(dir.path());
    let report = feedwire::app::poll_once(&config).await.unwrap();
    assert!(report.failures.is_empty(), "{report:#?}");
    assert_eq!(other.requests_to("/rss"), 1);
    assert_eq!(news.requests_to("/news/cairo"), 1);
    assert_eq!(news.requests_to("/news/delta"), 1);
    assert_both_articles_published(&config, &feed, (&cairo, &delta));
}

/// A page `poll-once` left pending (its item published with the teaser
/// and counted as a fallback; on sled, which no other process renders
/// from during the run, its claim held nothing) is resumed by the daemon
/// started on the same store afterwards: the windows-1256 article is
/// extracted and published, counted once as extracted, and the fallback is
/// not counted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_poll_once_left_pending_is_finished_by_the_daemon() {
    let news = FeedServer::start().await;
    let cairo = news.route(
        "/news/cairo",
        Route::feed(page("cairo-visit.html"), "text/html; charset=utf-8"),
    );
    // The late site answers nothing until the test lets it.
    let late_site = FeedServer::start().await;
    late_site.hold();
    let late = late_site.route(
        "/news/delta",
        Route::feed(page("arabic-windows-1256.html"), "text/html"),
    );
    let feed = news.route(
        "/rss",
        Route::feed(
            teaser_feed(&[(cairo.clone(), "زيارة القاهرة"), (late.clone(), "خطة الدلتا")]),
            "application/rss+xml",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new()
        .feed_with(
            "الجزيرة",
            &feed,
            &[("full_text", "true"), ("full_text_timeout", "\"4s\"")],
        )
        .load(dir.path());
    let report = feedwire::app::poll_once(&config).await.unwrap();
    assert_eq!(report.totals.items_new, 2, "{report:#?}");
    let items = rendered_items(&config);
    assert!(published_content(&items, &cairo).contains("وصل صدام حفتر"));
    assert!(published_content(&items, &late).contains(TEASER));
    {
        let store = feedwire::app::open_store(&config).unwrap();
        let stats = store.full_text_stats(&feed).unwrap();
        assert_eq!(
            (stats.extracted, stats.failed, stats.fallback),
            (1, 0, 1),
            "{stats:?}"
        );
        assert!(store.full_text_held().unwrap().is_empty());
        assert_eq!(store.pending_full_text().unwrap().len(), 1);
    }

    late_site.release();
    let daemon = Daemon::start(config.clone()).await.unwrap();
    wait_render(&daemon, "the late article", || {
        content_of(&daemon, &late).is_some_and(|c| c.contains("أعلنت وزارة الزراعة"))
    })
    .await;
    let article = content_of(&daemon, &late).unwrap();
    assert!(article.starts_with("<div dir=\"rtl\" lang=\"ar\">"), "{article}");
    let ft = status_of(&daemon, &feed).await.full_text.unwrap();
    assert_eq!((ft.extracted, ft.failed, ft.fallback), (2, 0, 1), "{ft:?}");
    assert_eq!(news.requests_to("/news/cairo"), 1);
    daemon.shutdown().await.unwrap();
}

/// A `poll-once` killed while it waits for its pages (the real binary,
/// SIGKILL) has counted nothing: its claims, taken without a hold, are
/// counted by the next run. The next `poll-once` resumes both pages; the
/// one that answers now is extracted, the one that still does not is
/// published with the teaser and counted as one fallback (not zero, as
/// when each run counted only the claims it took itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_poll_once_s_pages_are_counted_by_the_next_run() {
    let news = FeedServer::start().await;
    // Answers only once the first run is killed.
    let later = FeedServer::start().await;
    later.hold();
    let cairo = later.route(
        "/news/cairo",
        Route::feed(page("cairo-visit.html"), "text/html; charset=utf-8"),
    );
    let stuck = news.route(
        "/news/delta",
        Route::feed(page("arabic-windows-1256.html"), "text/html").delay(Duration::from_secs(60)),
    );
    let feed = news.route(
        "/rss",
        Route::feed(
            teaser_feed(&[(cairo.clone(), "زيارة القاهرة"), (stuck.clone(), "خطة الدلتا")]),
            "application/rss+xml",
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let with_timeout = |timeout: &str| {
        TestConfig::new()
            .feed_with(
                "الجزيرة",
                &feed,
                &[("full_text", "true"), ("full_text_timeout", timeout)],
            )
            .write(dir.path())
    };
    // The first run would wait 60 s; it is killed once both pages are
    // asked for (the round is stored and flushed before any page is).
    let path = with_timeout("\"60s\"");
    let mut first = Binary::command();
    first.args(["poll-once", "--config"]).arg(&path);
    let first = Binary::spawn(first);
    later
        .wait_for_requests("the Cairo page", WAIT, |r| {
            r.iter().any(|r| r.path == "/news/cairo")
        })
        .await;
    news.wait_for_requests("the delta page", WAIT, |r| {
        r.iter().any(|r| r.path == "/news/delta")
    })
    .await;
    first.signal("KILL");
    assert!(!first.wait().success());
    {
        let store = feedwire::app::open_store(&load_config(&path)).unwrap();
        assert_eq!(store.pending_full_text().unwrap().len(), 2);
        assert_eq!(store.full_text_stats(&feed).unwrap(), Default::default());
    }

    later.release();
    let config = load_config(&with_timeout("\"4s\""));
    let report = feedwire::app::poll_once(&config).await.unwrap();
    assert_eq!(report.totals.items_new, 0, "{report:#?}");
    let items = rendered_items(&config);
    assert!(published_content(&items, &cairo).contains("وصل صدام حفتر"));
    assert!(published_content(&items, &stuck).contains(TEASER));
    let store = feedwire::app::open_store(&config).unwrap();
    let stats = store.full_text_stats(&feed).unwrap();
    assert_eq!(
        (stats.extracted, stats.failed, stats.fallback),
        (1, 0, 1),
        "{stats:?}"
    );
    assert_eq!(store.pending_full_text().unwrap().len(), 1, "still queued");
}

/// Two items of a feed link to one section page (a ticker's): its page is
/// not fetched for either, both keep the feed's text, and operators see
/// why. The feed's item with a page of its own gets its article.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_other_entries_link_to_is_not_taken_as_the_article() {
    let server = FeedServer::start().await;
    let section = server.route(
        "/news/ajel",
        Route::feed(page("cairo-visit.html"), "text/html; charset=utf-8"),
    );
    let cairo = server.route(
        "/news/cairo",
        Route::feed(page("cairo-visit.html"), "text/html; charset=utf-8"),
    );
    let rss = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>عاجل</title><link>https://ajel.example/</link><description>x</description>
        <item><title>عاجل: البرلمان يقر الموازنة</title><link>{section}</link><guid isPermaLink="false">a-2</guid><description>{TEASER}</description></item>
        <item><title>عاجل: استئناف المفاوضات</title><link>{section}</link><guid isPermaLink="false">a-1</guid><description>{TEASER}</description></item>
        <item><title>زيارة القاهرة</title><link>{cairo}</link><description>{TEASER}</description></item>
        </channel></rss>"#
    );
    let feed = server.route("/rss", Route::feed(rss.into_bytes(), "application/rss+xml"));
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new().feed_with("عاجل", &feed, &[("full_text", "true")]);
    let daemon = Daemon::start(config.load(dir.path())).await.unwrap();
    wait_render(&daemon, "the article of the item with a page of its own", || {
        content_of(&daemon, &cairo).is_some_and(|c| c.contains("وصل صدام حفتر"))
    })
    .await;
    let ft = status_of(&daemon, &feed).await.full_text.unwrap();
    assert_eq!((ft.extracted, ft.failed), (1, 2), "{ft:?}");
    let error = ft.last_error.unwrap_or_default();
    assert!(
        error.contains("other entries of the feed link to this page too"),
        "{error}"
    );
    assert_eq!(server.requests_to("/news/ajel"), 0);
    daemon.shutdown().await.unwrap();
}

/// `full_text = "auto"`: only the items whose own text is a teaser have
/// their page fetched. A windows-1256 Arabic feed (charset in the XML
/// declaration only) with a one-line teaser, a long lead cut short with
/// "…", and a whole article in `content:encoded`: the two teasers are
/// published extracted, the article as the feed gave it, its page never
/// asked for, and a second run fetches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_fetches_only_the_pages_of_teasers() {
    teasers_fetched_with(|config, feed| {
        config.feed_with(
            "اليوم السابع",
            feed,
            &[("full_text", "\"auto\""), ("full_text_timeout", "\"20s\"")],
        )
    })
    .await;
}

/// The same with `[poll] full_text = "auto"` (the shipped config's) and
/// nothing but a timeout in the `[[feed]]`: the feed inherits the mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_full_text_auto_is_the_feeds_mode() {
    teasers_fetched_with(|config, feed| {
        config.poll("full_text", "\"auto\"").feed_with(
            "اليوم السابع",
            feed,
            &[("full_text_timeout", "\"20s\"")],
        )
    })
    .await;
}

async fn teasers_fetched_with(configure: impl FnOnce(TestConfig, &str) -> TestConfig) {
    let server = FeedServer::start().await;
    let (cairo, delta) = arabic_articles(&server);
    let whole = server.route(
        "/news/whole",
        Route::feed(page("cairo-visit.html"), "text/html; charset=utf-8"),
    );
    let sentence = "وقال المتحدث باسم وزارة الخارجية إن المحادثات تناولت ملفات التعاون الاقتصادي والأمن الإقليمي وسبل تعزيز العلاقات بين البلدين";
    let lead = format!("{} …", [sentence; 7].join(". "));
    let article = [sentence; 12].map(|s| format!("<p>{s}.</p>")).concat();
    let xml = format!(
        r#"<?xml version="1.0" encoding="windows-1256"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>سياسة</title><link>https://www.youm7.com/</link><description>x</description>
<item><title>خطة الدلتا</title><link>{delta}</link><description>{TEASER}</description></item>
<item><title>زيارة القاهرة</title><link>{cairo}</link><description>{lead}</description></item>
<item><title>محادثات كاملة</title><link>{whole}</link><description>ملخص</description><content:encoded><![CDATA[{article}]]></content:encoded></item>
</channel></rss>"#
    );
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1256.encode(&xml);
    assert!(!unmappable);
    let feed = server.route("/rss", Route::feed(bytes.into_owned(), "application/rss+xml"));
    let dir = tempfile::tempdir().unwrap();
    let config = configure(TestConfig::new(), &feed).load(dir.path());

    let report = feedwire::app::poll_once(&config).await.unwrap();
    assert_eq!(report.totals.items_new, 3, "{report:#?}");
    let items = rendered_items(&config);
    let content = |url: &str| published_content(&items, url);
    assert!(content(&cairo).contains("وصل صدام حفتر"), "{items:?}");
    assert!(content(&delta).contains("أعلنت وزارة الزراعة"), "{items:?}");
    let kept = content(&whole);
    assert!(
        kept.contains(sentence) && !kept.contains("وصل صدام حفتر"),
        "{kept}"
    );
    assert_eq!(
        server.requests_to("/news/whole"),
        0,
        "the article's page is not fetched"
    );
    let store = feedwire::app::open_store(&config).unwrap();
    let stats = store.full_text_stats(&feed).unwrap();
    assert_eq!(
        (stats.extracted, stats.failed, stats.fallback),
        (2, 0, 0),
        "{stats:?}"
    );
    drop(store);

    let report = feedwire::app::poll_once(&config).await.unwrap();
    assert_eq!(report.totals.items_new, 0, "{report:#?}");
    for path in ["/news/cairo", "/news/delta"] {
        assert_eq!(server.requests_to(path), 1, "{path} fetched once");
    }
    assert_eq!(server.requests_to("/news/whole"), 0);
}
