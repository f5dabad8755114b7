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
