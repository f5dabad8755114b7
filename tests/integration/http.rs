//! The daemon in-process: what subscribers get over HTTP.

use std::io::Read;

use feedwire::app::Daemon;
use reqwest::header;
use reqwest::StatusCode;

use crate::support::*;

/// Starts a daemon on the fixtures and waits until its outputs carry all
/// eight fixture items (renders follow each feed, so early ones are partial).
async fn daemon_with_fixtures() -> (FeedServer, tempfile::TempDir, Daemon) {
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = load_config(&write_config(dir.path(), &serve_all_fixtures(&server)));
    let daemon = Daemon::start(config).await.unwrap();
    let published = daemon.published();
    let mut renders = published.subscribe();
    let complete = |_: &u64| {
        published
            .get("politics.atom")
            .is_some_and(|doc| entries_of(&doc.body).0.len() == 8)
    };
    tokio::time::timeout(WAIT, renders.wait_for(complete))
        .await
        .expect("outputs with every item within the bound")
        .unwrap();
    (server, dir, daemon)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_outputs_with_validators_and_gzip() {
    let (_server, _dir, daemon) = daemon_with_fixtures().await;
    let client = http_client();
    let base = format!("http://{}", daemon.addr);

    for (path, ctype) in [
        ("/politics.rss", "application/rss+xml; charset=utf-8"),
        ("/politics.atom", "application/atom+xml; charset=utf-8"),
    ] {
        let resp = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let h = resp.headers().clone();
        assert_eq!(h[header::CONTENT_TYPE], ctype);
        let etag = h[header::ETAG].to_str().unwrap().to_owned();
        let last_modified = h[header::LAST_MODIFIED].to_str().unwrap().to_owned();
        let body = resp.bytes().await.unwrap();
        let (_, titles) = entries_of(&body);
        // The shared story was ingested from up to three feeds: eight items.
        assert_eq!(titles.len(), 8, "{path}");

        // Conditional requests.
        let r = client
            .get(format!("{base}{path}"))
            .header(header::IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{path} If-None-Match");
        assert!(r.bytes().await.unwrap().is_empty());
        let r = client
            .get(format!("{base}{path}"))
            .header(header::IF_MODIFIED_SINCE, &last_modified)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{path} If-Modified-Since");
        let r = client
            .get(format!("{base}{path}"))
            .header(header::IF_NONE_MATCH, "\"stale\"")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);

        // gzip when asked, with its own validator.
        let r = client
            .get(format!("{base}{path}"))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(r.headers()[header::VARY], "Accept-Encoding");
        let gz_etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_ne!(gz_etag, etag);
        let compressed = r.bytes().await.unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body, "gzip body inflates to the plain body");
        let r = client
            .get(format!("{base}{path}"))
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(header::IF_NONE_MATCH, &gz_etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

        // HEAD: headers, no body.
        let r = client.head(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), etag);
        assert!(r.bytes().await.unwrap().is_empty());
    }

    let r = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for missing in ["/nope.rss", "/politics.xml", "/politics.rss/x"] {
        let r = client.get(format!("{base}{missing}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_is_exclusive_to_the_daemon() {
    let (_server, dir, daemon) = daemon_with_fixtures().await;
    let config = load_config(&dir.path().join("feeds.toml"));
    let err = feedwire::app::poll_once(&config).await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("in use by another process"), "{msg}");
    assert!(msg.contains(&config.storage.path.display().to_string()), "{msg}");
    daemon.shutdown().await.unwrap();
    // Once the daemon has stopped, the store is free again.
    let report = feedwire::app::poll_once(&config).await.unwrap();
    assert_eq!(report.items_stored, 8);
}

/// The compressed copies subscribers asked for since the last render are
/// made ahead of their next request, once the render that changed the
/// document is published; those nobody asked for are not; the headers,
/// validators and bodies are those of a copy made on request (Arabic
/// titles, brotli and gzip decoded and compared).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_asked_for_are_made_ahead_after_a_render() {
    let (_server, dir, mut daemon) = daemon_with_fixtures().await;
    let client = http_client();
    let base = format!("http://{}", daemon.addr);
    let published = daemon.published();
    let get = |path: &str, coding: &str, etag: Option<&str>| {
        let mut r = client
            .get(format!("{base}{path}"))
            .header(header::ACCEPT_ENCODING, coding);
        if let Some(etag) = etag {
            r = r.header(header::IF_NONE_MATCH, etag);
        }
        r.send()
    };
    // A brotli reader of the RSS, a gzip reader of the Atom; nobody asks
    // for the JSON Feed compressed.
    let r = get("/politics.rss", "br", None).await.unwrap();
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "br");
    let r = get("/politics.atom", "gzip", None).await.unwrap();
    assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
    let served = published.get("politics.rss").unwrap();

    // A render that changes every document: a new output title.
    let path = dir.path().join("feeds.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("title = \"سياسة\"", "title = \"سياسة وأخبار\""),
    )
    .unwrap();
    let mut warmed = published.subscribe_warmed();
    let before = *warmed.borrow_and_update();
    daemon.reload().await.unwrap();
    tokio::time::timeout(WAIT, warmed.wait_for(|n| *n > before))
        .await
        .expect("copies made within the bound")
        .unwrap();
    let rss = published.get("politics.rss").unwrap();
    assert!(!std::sync::Arc::ptr_eq(&rss, &served), "rendered anew");
    assert!(std::str::from_utf8(&rss.body).unwrap().contains("سياسة وأخبار"));
    assert_eq!(rss.copies(), ["br"]);
    assert_eq!(published.get("politics.atom").unwrap().copies(), ["gzip"]);
    assert!(published.get("politics.json").unwrap().copies().is_empty());

    // What the next readers get is what a copy made on request gives.
    let r = get("/politics.rss", "br", None).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::VARY], "Accept-Encoding");
    let br_etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
    assert_eq!(br_etag, format!("{}-br\"", rss.etag.trim_end_matches('"')));
    let mut plain = Vec::new();
    brotli::Decompressor::new(&r.bytes().await.unwrap()[..], 4096)
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, rss.body);
    let r = get("/politics.rss", "br", Some(&br_etag)).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let atom = published.get("politics.atom").unwrap();
    let r = get("/politics.atom", "gzip", None).await.unwrap();
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&r.bytes().await.unwrap()[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, atom.body);

    // Asked for once, made ahead once: a render after no request makes
    // nothing ahead (the next reader makes its copy, as before).
    std::fs::write(&path, text.replace("title = \"سياسة\"", "title = \"أخبار\"")).unwrap();
    let mut renders = published.subscribe();
    renders.borrow_and_update();
    // The requests above asked again: this render's copies are made...
    let before = *warmed.borrow_and_update();
    daemon.reload().await.unwrap();
    tokio::time::timeout(WAIT, warmed.wait_for(|n| *n > before))
        .await
        .expect("copies made within the bound")
        .unwrap();
    assert_eq!(published.get("politics.rss").unwrap().copies(), ["br"]);
    // ...and with no request since, the next render's are not.
    std::fs::write(&path, text).unwrap();
    renders.borrow_and_update();
    daemon.reload().await.unwrap();
    tokio::time::timeout(WAIT, renders.changed())
        .await
        .expect("a render within the bound")
        .unwrap();
    let rss = published.get("politics.rss").unwrap();
    let body = std::str::from_utf8(&rss.body).unwrap();
    assert!(body.contains("سياسة") && !body.contains("سياسة وأخبار"));
    assert!(rss.copies().is_empty(), "{:?}", rss.copies());
    daemon.shutdown().await.unwrap();
}
