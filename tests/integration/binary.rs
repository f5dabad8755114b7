//! The real binary: exit codes, signals, restarts on the same store.

use std::collections::BTreeSet;

use reqwest::header;

use crate::support::*;

async fn get(addr: std::net::SocketAddr, path: &str) -> reqwest::Response {
    http_client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap()
}

/// A SIGTERM while the daemon is still starting (store opening, outputs
/// rendering) is a clean stop once it can be, never a kill by the signal:
/// systemd and package scripts stop a service as soon as it is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_start_stops_cleanly() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &serve_all_fixtures(&server));
    for _ in 0..3 {
        let daemon = Binary::run(&config);
        daemon.wait_for_line("Starting.");
        daemon.signal("TERM");
        daemon.wait_for_line("Stopped.");
        assert_eq!(daemon.wait().code(), Some(0), "SIGTERM during start exits 0");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serve_sigterm_restart() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &serve_all_fixtures(&server));

    // First run: poll, render, serve, stop on SIGTERM with exit code 0.
    let daemon = Binary::run(&config);
    let addr = daemon.wait_listening();
    daemon.wait_for_line("Outputs rendered. stored=8");
    let resp = get(addr, "/politics.rss").await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.unwrap();
    let (ids, titles) = entries_of(&body);
    assert_eq!(ids.len(), 8);
    assert!(titles.contains(&"الحكومة تعلن استقالتها بعد اجتماع طارئ".to_owned()));
    daemon.signal("TERM");
    let status = daemon.wait();
    assert_eq!(status.code(), Some(0), "graceful stop exits 0");

    // What the store holds now, rendered here: a restarted daemon must serve
    // exactly this (same bytes, same ETag), not a fresh poll's result.
    let expected_etag = {
        let config = load_config(&config);
        let store = feedwire::store::Store::open(&config.storage.path).unwrap();
        feedwire::app::render_all(&config, &store).unwrap()["politics.rss"]
            .etag
            .clone()
    };

    // Second run on the same store, with every upstream answer held: the
    // outputs are served from the store before any new poll completes.
    server.hold();
    let requests_before = server.requests().len();
    let daemon = Binary::run(&config);
    let addr = daemon.wait_listening();
    let resp = get(addr, "/politics.rss").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()[header::ETAG].to_str().unwrap(),
        expected_etag,
        "same content, same ETag across restarts"
    );
    let (ids_after, _) = entries_of(&resp.bytes().await.unwrap());
    assert_eq!(ids_after, ids, "same items, same order, none duplicated");
    assert_eq!(ids_after.iter().collect::<BTreeSet<_>>().len(), ids_after.len());
    // Feeds polled successfully are not due yet after a restart; only the
    // failed feed is retried (after its backoff), so nothing was fetched.
    assert_eq!(
        server.requests().len(),
        requests_before,
        "a restart does not re-poll everything"
    );
    server.release();
    daemon.signal("INT");
    assert_eq!(daemon.wait().code(), Some(0), "SIGINT also stops gracefully");
}

#[test]
fn check_exit_codes_and_locations() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_config(
        dir.path(),
        &[FeedEntry {
            name: "BBC عربي",
            url: "https://feeds.bbci.co.uk/arabic/rss.xml".into(),
            tags: &["politics"],
        }],
    );
    let out = Binary::cli(&["check", "--config"], &[&good]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with("ok: ") && stdout.contains("1 feeds"),
        "{stdout}"
    );

    // FEEDWIRE_CONFIG is the fallback for --config.
    let out = Binary::command()
        .arg("check")
        .env("FEEDWIRE_CONFIG", &good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let text = std::fs::read_to_string(&good).unwrap();
    let bad_text = text
        .replace("timeout = \"10s\"", "timeout = \"10s\"\nintervall = \"5m\"")
        .replace("https://feeds.bbci", "feeds.bbci");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, &bad_text).unwrap();
    let out = Binary::cli(&["check", "--config"], &[&bad]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    // serde stops at the first unknown key, so that is what is reported.
    let line = 1 + bad_text.lines().position(|l| l.starts_with("intervall")).unwrap();
    assert!(
        stderr.contains(&format!(
            "{}:{line}:1: poll.intervall: unknown field `intervall`",
            bad.display()
        )),
        "{stderr}"
    );

    let bad_text = text.replace("https://feeds.bbci", "feeds.bbci");
    std::fs::write(&bad, &bad_text).unwrap();
    let out = Binary::cli(&["check", "--config"], &[&bad]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = 1 + bad_text
        .lines()
        .position(|l| l.starts_with("url = \"feeds.bbci"))
        .unwrap();
    assert!(
        stderr.contains(&format!("{}:{line}:7: feed[0].url: invalid URL", bad.display())),
        "{stderr}"
    );

    let out = Binary::cli(&["check", "--config", "/nonexistent/feeds.toml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/feeds.toml"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_exit_codes() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut feeds = serve_all_fixtures(&server);

    // Every feed fine: 0, with a summary.
    let broken = feeds.pop().unwrap();
    let config = write_config(dir.path(), &feeds);
    let out = Binary::cli(&["poll-once", "--config"], &[&config]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("feeds: 4 ok (0 not modified), 0 failed; items: 8 new, 2 duplicate"),
        "{stdout}"
    );
    assert!(stdout.contains("rendered: politics.atom"), "{stdout}");

    // One feed broken: 1, and the failure names it.
    feeds.push(broken);
    let config = write_config(dir.path(), &feeds);
    let out = Binary::cli(&["poll-once", "--config"], &[&config]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("failed: {}", server.url("/broken.xml"))),
        "{stdout}"
    );
    assert!(stdout.contains("4 ok (4 not modified), 1 failed"), "{stdout}");

    // The store held by a running daemon: 2, with a clear message.
    let daemon = Binary::run(&config);
    daemon.wait_listening();
    let out = Binary::cli(&["poll-once", "--config"], &[&config]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("in use by another process"), "{stderr}");
    daemon.signal("TERM");
    assert_eq!(daemon.wait().code(), Some(0));

    // A bad config: 2.
    std::fs::write(&config, "[poll]\nconcurrency = 0\n").unwrap();
    let out = Binary::cli(&["poll-once", "--config"], &[&config]);
    assert_eq!(out.status.code(), Some(2));
}

/// The feed's state as the last `poll-once` saved it (the store opened and
/// closed again, so that the next command can take it).
fn saved_state(config: &std::path::Path, url: &str) -> feedwire::store::FeedState {
    let config = load_config(config);
    let store = feedwire::store::Store::open(&config.storage.path).unwrap();
    store.feed_state(url).unwrap().unwrap()
}

/// A feed state's entry counts: seen, new, older than the retention,
/// beyond `[poll] max_items`, empty.
fn entry_counts(state: &feedwire::store::FeedState) -> (usize, usize, usize, usize, usize) {
    (
        state.items_seen,
        state.items_new,
        state.items_too_old,
        state.items_over_limit,
        state.items_empty,
    )
}

/// Every entry of a document is stored or named, with its reason, in the
/// summary `poll-once` prints and in the feed's status: older than the
/// retention, beyond `[poll] max_items`, or with nothing to publish. A
/// windows-1256 document with Arabic dates: a CMS's 1970 placeholder is
/// dated at first sight (not refused as too old), a `<dc:date>` after the
/// pubDate does not replace it, a Go zero-time pubDate gives way to the
/// dc:date, and a video entry titled only in `<media:title>` is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_names_every_entry_it_does_not_store() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = server.serve_fixture("/drops.xml", "drops_cp1256.xml", "application/rss+xml");
    let path = TestConfig::new()
        .retention("3650d")
        .poll("max_items", "6")
        .feed("أخبار الساعة", &url)
        .write(dir.path());
    let before = chrono::Utc::now().timestamp();
    let out = Binary::cli(&["poll-once", "--config"], &[&path]);
    let after = chrono::Utc::now().timestamp();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "feeds: 1 ok (0 not modified), 0 failed; items: 4 new, 0 duplicate; not stored: \
             1 older than the retention, 2 beyond [poll] max_items, 1 with no title, text or link"
        ),
        "{stdout}"
    );

    let export = Binary::cli(&["export", "--config"], &[&path]);
    assert_eq!(export.status.code(), Some(0));
    let items: Vec<serde_json::Value> = String::from_utf8(export.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_title = |title: &str| {
        items
            .iter()
            .find(|i| i["title"] == title)
            .unwrap_or_else(|| panic!("{title} not stored: {items:#?}"))
    };
    let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
    let placeholder = by_title("خبر نشره نظام بلا تاريخ");
    assert_eq!(placeholder["published"], 0, "the feed's date is kept");
    let dated = placeholder["date"].as_i64().unwrap();
    assert!(
        (before..=after).contains(&dated),
        "dated at first sight: {placeholder}"
    );
    assert_eq!(by_title("بيان الوزارة")["date"], t("2026-11-29T10:00:00Z"));
    assert_eq!(by_title("بيان الوزارة")["updated"], t("2026-11-29T15:42:53Z"));
    assert_eq!(by_title("تحديث")["date"], t("2026-11-30T06:00:00Z"));
    assert_eq!(by_title("خطاب الرئيس كاملا")["summary"], "نص الخطاب");
    assert_eq!(items.len(), 4, "{items:#?}");

    let state = saved_state(&path, &url);
    assert_eq!(entry_counts(&state), (5, 4, 1, 2, 1));
    let status = feedwire::status::FeedStatus::new("أخبار الساعة", &url, Some(&state));
    assert_eq!(status.state, "ok");
    assert_eq!(
        status.note().as_deref(),
        Some(
            "1 entries older than the retention, not stored; 2 entries beyond [poll] max_items, not read; \
             1 entries with no title, text or link, not stored"
        )
    );

    // The daemon's round line carries the same counts, on a fresh store.
    // (The store's default path is beside the config.)
    let fresh = dir.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::copy(&path, fresh.join("feeds.toml")).unwrap();
    let daemon = Binary::run(&fresh.join("feeds.toml"));
    let line = daemon.wait_for_line("Poll round done.");
    daemon.signal("TERM");
    assert!(daemon.wait().success());
    for field in [
        "ok=1 ",
        "new=4 ",
        "no_entries=0 ",
        "gaps=0 ",
        "too_old=1 ",
        "over_limit=2 ",
        "empty=1",
    ] {
        assert!(line.contains(field), "{field} in {line}");
    }
}

/// An archive feed of mostly old entries (windows-1256, Arabic), read with
/// the default 30-day retention: `poll-once` names every entry it does not
/// store with its reason, and the feed's state keeps the counts, on the
/// first poll and after the document changed (a new entry on top, a new
/// `lastBuildDate`): the old entries are older than the retention each
/// time (the parser no longer builds them: the counts are what they were
/// when it built them and the poller dropped them), the known ones are
/// duplicates, and the cap takes the oldest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_counts_an_archive_of_old_entries() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let ago = |secs: i64| (now - chrono::Duration::seconds(secs)).to_rfc2822();
    let document = |new: usize| {
        let mut items = String::new();
        for n in (1..=new).rev() {
            items.push_str(&format!(
                "<item><title>خبر جديد رقم {n}</title><link>http://news.example/new/{n}</link>\
                 <pubDate>{}</pubDate><description>&lt;p&gt;نص &lt;b&gt;الخبر&lt;/b&gt; {n}&lt;/p&gt;</description></item>",
                ago(3600 * (10 - n as i64))
            ));
        }
        for n in 0..60 {
            items.push_str(&format!(
                "<item><title>من الأرشيف {n}</title><link>http://news.example/archive/{n}</link>\
                 <pubDate>{}</pubDate><description>&lt;p dir=\"rtl\"&gt;بيان &lt;a href=\"/x/{n}?utm_source=rss\"&gt;قديم&lt;/a&gt;&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</description></item>",
                ago(31 * 86_400 + n * 7 * 86_400)
            ));
            let old = ago(40 * 86_400 + n);
            match n {
                // Old, no link: with a title, with text only, with text
                // that sanitises to nothing (empty).
                10 => items.push_str(&format!(
                    "<item><title>حلقة قديمة</title><guid isPermaLink=\"false\">episode-1</guid><pubDate>{old}</pubDate></item>"
                )),
                20 => items.push_str(&format!(
                    "<item><guid isPermaLink=\"false\">episode-2</guid><pubDate>{old}</pubDate><description>&lt;p&gt;نص حلقة&lt;/p&gt;</description></item>"
                )),
                30 => items.push_str(&format!(
                    "<item><guid isPermaLink=\"false\">episode-3</guid><pubDate>{old}</pubDate><description>&lt;script&gt;x()&lt;/script&gt;</description></item>"
                )),
                _ => {}
            }
        }
        let text = format!(
            "<?xml version=\"1.0\" encoding=\"windows-1256\"?><rss version=\"2.0\"><channel><title>أرشيف الأخبار</title>\
             <link>http://news.example/</link><lastBuildDate>{}</lastBuildDate>{items}</channel></rss>",
            ago(60 * new as i64)
        );
        let (encoded, _, unmappable) = encoding_rs::WINDOWS_1256.encode(&text);
        assert!(!unmappable);
        encoded.into_owned()
    };
    let url = server.route("/archive.xml", Route::feed(document(3), "application/rss+xml"));
    let path = TestConfig::new()
        .retention("30d")
        .poll("max_items", "64")
        .feed("أرشيف الأخبار", &url)
        .write(dir.path());
    // One poll-once: its summary, then the feed state's counts (seen, new,
    // too old, over the cap, empty).
    let poll = |summary: &str, counts: (usize, usize, usize, usize, usize)| {
        let out = Binary::cli(&["poll-once", "--config"], &[&path]);
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.contains(summary), "{stdout}");
        assert_eq!(entry_counts(&saved_state(&path, &url)), counts);
    };
    // 66 entries: 2 past the cap (the oldest), 1 empty, 60 older than
    // the retention (58 with a link, 2 without), 3 new.
    poll(
        "feeds: 1 ok (0 not modified), 0 failed; items: 3 new, 0 duplicate; not stored: \
         60 older than the retention, 2 beyond [poll] max_items, 1 with no title, text or link",
        (63, 3, 60, 2, 1),
    );

    // One new entry on top: one more old one past the cap.
    server.set("/archive.xml", Route::feed(document(4), "application/rss+xml"));
    poll(
        "feeds: 1 ok (0 not modified), 0 failed; items: 1 new, 3 duplicate; not stored: \
         59 older than the retention, 3 beyond [poll] max_items, 1 with no title, text or link",
        (63, 1, 59, 3, 1),
    );

    let export = Binary::cli(&["export", "--config"], &[&path]);
    assert_eq!(export.status.code(), Some(0));
    let titles: BTreeSet<String> = String::from_utf8(export.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["title"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let want: BTreeSet<String> = (1..=4).map(|n| format!("خبر جديد رقم {n}")).collect();
    assert_eq!(titles, want);
}
