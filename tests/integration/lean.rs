//! The lean ingest path (issue 12): bodies are read only in a free pipeline
//! slot, many feeds pass through few slots without loss or deadlock, and a
//! `poll-once` that changes nothing does not render.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use feedwire::app::poll_once;
use feedwire::fetch::{Fetcher, Validators};
use feedwire::parse::{parse_feed, FeedRef, Limits};
use feedwire::poller::{poll_all, PollContext};
use feedwire::store::Store;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use url::Url;

use crate::support::*;

const AJ: &str = "aljazeera_rss2.xml";
/// Arabic in windows-1256, declared only in the XML prolog.
const YOUM7: &str = "youm7_cp1256.xml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gated_fetch_reads_its_body_only_in_a_free_slot() {
    let server = FeedServer::start().await;
    let aj = Url::parse(&server.serve_fixture("/aj.xml", AJ, "application/rss+xml")).unwrap();
    let youm7 = Url::parse(&server.serve_fixture("/youm7.xml", YOUM7, "text/xml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = TestConfig::new().feed("aj", aj.as_str()).load(dir.path());
    let fetcher = Fetcher::new(&config.poll).unwrap();
    let gate = Arc::new(Semaphore::new(1));

    let first = fetcher
        .fetch_gated(&aj, &Validators::default(), true, Some(&gate))
        .await
        .unwrap();
    assert_eq!(first.body.as_deref(), Some(&fixture(AJ)[..]));
    assert!(first.body_slot.is_some());
    assert_eq!(gate.available_permits(), 0, "the body holds the only slot");
    let validators = first.validators.clone();

    // The second answer arrives, but its body waits for the slot.
    let mut second = tokio::spawn({
        let (fetcher, gate, youm7) = (fetcher.clone(), gate.clone(), youm7.clone());
        async move {
            fetcher
                .fetch_gated(&youm7, &Validators::default(), true, Some(&gate))
                .await
        }
    });
    assert!(
        timeout(Duration::from_millis(300), &mut second).await.is_err(),
        "a second body was read while the only slot was taken"
    );
    drop(first);
    let second = timeout(WAIT, second).await.unwrap().unwrap().unwrap();
    assert_eq!(
        second.body.as_deref(),
        Some(&fixture(YOUM7)[..]),
        "bytes untouched: charset is parse's job"
    );
    drop(second);
    assert_eq!(gate.available_permits(), 1, "the slot comes back with the body");

    // A 304 has no body and takes no slot.
    let not_modified = fetcher
        .fetch_gated(&aj, &validators, true, Some(&gate))
        .await
        .unwrap();
    assert!(not_modified.body.is_none() && not_modified.body_slot.is_none());
    assert_eq!(gate.available_permits(), 1);
}

/// Distinct item keys in the fixtures, as parse sees them.
fn distinct_keys(fixtures: &[&str]) -> usize {
    let url = Url::parse("https://fixtures.test/feed.xml").unwrap();
    let mut keys = HashSet::new();
    for name in fixtures {
        let parsed = parse_feed(
            FeedRef { url: &url, name: "f" },
            &fixture(name),
            None,
            chrono::Utc::now(),
            Limits::default(),
        )
        .unwrap();
        keys.extend(parsed.items.into_iter().map(|i| i.key));
    }
    keys.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_feeds_through_few_body_slots_all_land_once() {
    // Far more feeds (and fetches at once) than body slots (two per core).
    many_feeds_land_once("24").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_feeds_than_poll_all_starts_at_once_all_land_once() {
    // `poll_all` starts 2 × (concurrency + body slots) feeds at a time: with
    // concurrency 1 on 2 cores (CI) that is 10, fewer than the 12 feeds.
    many_feeds_land_once("1").await;
}

/// Every document must be parsed and stored, exactly once per story.
async fn many_feeds_land_once(concurrency: &str) {
    const COPIES: usize = 12;
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TestConfig::new()
        .poll("concurrency", concurrency)
        .poll("per_host", "24");
    for i in 0..COPIES {
        let (fixture_name, ctype) = if i % 2 == 0 {
            (AJ, "application/rss+xml")
        } else {
            (YOUM7, "text/xml")
        };
        let url = server.serve_fixture(&format!("/copy/{i}.xml"), fixture_name, ctype);
        cfg = cfg.feed(&format!("نسخة {i}"), &url);
    }
    let config = cfg.load(dir.path());
    let store = Store::open(&config.storage.path).unwrap();
    let ctx = PollContext::new(
        store.clone(),
        Fetcher::new(&config.poll).unwrap(),
        Arc::new(feedwire::clock::SystemClock),
        &config,
    );
    let (report, _) = timeout(WAIT, poll_all(&ctx, &config)).await.unwrap();
    assert_eq!(report.feeds_ok, COPIES, "{report}");
    assert_eq!(report.feeds_failed, 0, "{report}");
    let distinct = distinct_keys(&[AJ, YOUM7]);
    assert!(distinct > 0);
    assert_eq!(report.items_new, distinct, "{report}");
    assert_eq!(store.item_count(), distinct);
    // Arabic from the windows-1256 copy came through decoded.
    let items = store.recent(100, usize::MAX, |_| true).unwrap();
    assert!(
        items
            .iter()
            .any(|i| i.title.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))),
        "no Arabic title stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_renders_only_when_something_changed() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let aj = server.serve_fixture("/aj.xml", AJ, "application/rss+xml");
    let youm7 = server.serve_fixture("/youm7.xml", YOUM7, "text/xml");
    let config = TestConfig::new()
        .feed("الجزيرة", &aj)
        .feed("اليوم السابع", &youm7)
        .load(dir.path());

    let first = poll_once(&config).await.unwrap();
    assert!(first.totals.items_new > 0, "{first:#?}");
    let names: Vec<&str> = first.rendered.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"politics.rss") && names.contains(&"politics.atom"),
        "{names:?}"
    );

    // Every feed answers 304: nothing stored changed, nothing rendered.
    let second = poll_once(&config).await.unwrap();
    assert_eq!(second.totals.not_modified, 2, "{second:#?}");
    assert!(second.rendered.is_empty(), "{:?}", second.rendered);
    assert_eq!(second.items_stored, first.items_stored);

    // A feed gains an item: rendered again.
    let extra = String::from_utf8(fixture(AJ)).unwrap().replacen(
        "<item>",
        "<item><title>خبر جديد</title><link>https://www.aljazeera.net/news/lean-new</link></item><item>",
        1,
    );
    server.set("/aj.xml", Route::feed(extra.into_bytes(), "application/rss+xml"));
    let third = poll_once(&config).await.unwrap();
    assert_eq!(third.totals.items_new, 1, "{third:#?}");
    assert!(!third.rendered.is_empty());
    assert_eq!(third.items_stored, first.items_stored + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_renders_and_writes_only_the_outputs_whose_feeds_changed() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let youm7 = server.serve_fixture("/youm7.xml", YOUM7, "text/xml");
    let aj = server.serve_fixture("/aj.xml", AJ, "application/rss+xml");
    // `politics` (the test config's) and `news` carry the windows-1256
    // feed, `sport` the UTF-8 one; `news` and `sport` are written to files.
    let path = TestConfig::new().feed("اليوم السابع", &youm7).write(dir.path());
    let out = dir.path().join("out");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[[feed]]\nurl = {aj:?}\nname = \"الجزيرة\"\ntags = [\"sport\"]\n\n\
         [[output]]\nname = \"news\"\ntags = [\"politics\"]\nfile = {:?}\n\n\
         [[output]]\nname = \"sport\"\ntags = [\"sport\"]\nfile = {:?}\n",
        out.join("news"),
        out.join("sport"),
    ));
    std::fs::write(&path, text).unwrap();
    let config = load_config(&path);
    let names = |r: &feedwire::app::PollOnceReport| -> Vec<String> {
        r.rendered.iter().map(|(n, _)| n.clone()).collect()
    };
    let read = |name: &str| String::from_utf8(std::fs::read(out.join(name)).unwrap()).unwrap();

    let first = poll_once(&config).await.unwrap();
    assert_eq!(first.totals.feeds_ok, 2, "{first:#?}");
    let mut all: Vec<String> = ["news", "politics", "sport"]
        .iter()
        .flat_map(|o| ["atom", "json", "rss"].map(|ext| format!("{o}.{ext}")))
        .collect();
    all.sort();
    assert_eq!(names(&first), all);
    // The files are the rendered documents, Arabic decoded from windows-1256.
    for (name, bytes) in &first.rendered {
        if !name.starts_with("politics") {
            assert_eq!(
                std::fs::metadata(out.join(name)).unwrap().len() as usize,
                *bytes,
                "{name}"
            );
        }
    }
    let news = read("news.rss");
    assert!(
        news.contains("<rss") && news.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
        "{news}"
    );
    assert!(!out.join("politics.rss").exists());

    // Only the sport feed gains an item: only `sport` is rendered and written.
    let extra = String::from_utf8(fixture(AJ)).unwrap().replacen(
        "<item>",
        "<item><title>هدف في الدقيقة الأخيرة</title><link>https://www.aljazeera.net/sport/lean-goal</link></item><item>",
        1,
    );
    server.set("/aj.xml", Route::feed(extra.into_bytes(), "application/rss+xml"));
    std::fs::write(out.join("news.rss"), "left alone").unwrap();
    let second = poll_once(&config).await.unwrap();
    assert_eq!(second.totals.items_new, 1, "{second:#?}");
    assert_eq!(names(&second), ["sport.atom", "sport.json", "sport.rss"]);
    assert!(read("sport.rss").contains("هدف في الدقيقة الأخيرة"));
    assert!(read("sport.json").contains("هدف في الدقيقة الأخيرة"));
    assert_eq!(read("news.rss"), "left alone");
}

/// What `poll-once` writes to an output's files, and counts for an output
/// without one, is byte for byte what the server publishes from the same
/// store: the documents go straight into their files as they are
/// generated, from the store reopened after the round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_once_writes_the_documents_the_server_publishes() {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let youm7 = server.serve_fixture("/youm7.xml", YOUM7, "text/xml");
    let aj = server.serve_fixture("/aj.xml", AJ, "application/rss+xml");
    let path = TestConfig::new()
        .feed("اليوم السابع", &youm7)
        .feed("الجزيرة", &aj)
        .write(dir.path());
    let out = dir.path().join("out");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "\n[[output]]\nname = \"news\"\ntitle = \"أخبار\"\nmax_items = 1000\ntags = [\"politics\"]\nfile = {:?}\n",
        out.join("news"),
    ));
    std::fs::write(&path, text).unwrap();
    let config = load_config(&path);

    let report = poll_once(&config).await.unwrap();
    assert_eq!(report.totals.feeds_ok, 2, "{report:#?}");
    let store = Store::open(&config.storage.path).unwrap();
    let docs = feedwire::app::render_all(&config, &store).unwrap();
    let mut seen = 0;
    for (name, bytes) in &report.rendered {
        let served = &docs[name].body;
        assert_eq!(*bytes, served.len(), "{name}");
        if name.starts_with("news.") {
            assert_eq!(&std::fs::read(out.join(name)).unwrap(), served, "{name}");
            seen += 1;
        }
    }
    assert_eq!(seen, 3, "{:?}", report.rendered);
    // Arabic decoded from windows-1256 and from UTF-8, in the written JSON.
    let json = std::fs::read_to_string(out.join("news.json")).unwrap();
    assert!(json.contains("\"title\": \"أخبار\""), "{json}");
    let stored = store.recent(100, usize::MAX, |_| true).unwrap();
    for item in &stored {
        assert!(
            json.contains(&serde_json::to_string(&item.title).unwrap()),
            "{}",
            item.title
        );
    }
    assert!(
        stored
            .iter()
            .any(|i| i.title.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))),
        "no Arabic title stored"
    );
}

/// The shipped binary allocates with jemalloc under feedwire's options
/// (`src/memory.rs`), not with its defaults: jemalloc prints its options
/// at exit when asked to through the environment.
#[cfg(not(target_env = "msvc"))]
#[test]
fn the_binary_runs_on_jemalloc_with_our_options() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_feedwire"))
        .arg("--version")
        .env("_RJEM_MALLOC_CONF", "stats_print:true")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stats = String::from_utf8_lossy(&out.stderr);
    for option in [
        "opt.narenas: 1\n",
        "opt.tcache_max: 512\n",
        "opt.dirty_decay_ms: 300 ",
        "opt.muzzy_decay_ms: 0 ",
    ] {
        assert!(
            stats.contains(option),
            "{option:?} not in jemalloc's statistics:\n{stats}"
        );
    }
}
