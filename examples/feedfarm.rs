//! The feed farm: serves N synthetic feeds on loopback addresses, with real
//! validators (a request with a matching `If-None-Match`, or with
//! `If-Modified-Since` equal to the `Last-Modified`, gets 304).
//!
//! ```sh
//! cargo run --release --example feedfarm -- 1000 --config /tmp/farm/feeds.toml
//! ```
//!
//! Options: `--hosts H` (loopback addresses to spread the feeds over; default
//! min(N, 1000)), `--port P` (default: a free one), `--config PATH` (write a
//! `feeds.toml` for the daemon; its store goes to `--store`, default `data`),
//! `--concurrency C` (the config's `[poll] concurrency`, default 16),
//! `--max-secs S` (stop by itself after S seconds, default 3600).
//!
//! Prints one summary line, then `ready http://ADDR:PORT/f/0.xml` once every
//! listener is up. `GET /stats` on any address answers `200=X 304=Y`.
//! Documents are generated from a fixed seed: the same N gives the same bytes.

#[path = "support/farm.rs"]
mod farm;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;

struct Served {
    docs: Vec<(Bytes, HeaderValue, HeaderValue, HeaderValue)>,
    ok: AtomicU64,
    not_modified: AtomicU64,
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("bad value for {name}: {v}")))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .expect("usage: feedfarm N [--hosts H] [--port P] [--config PATH] [--store PATH] [--concurrency C] [--max-secs S]");
    let hosts = arg(&args, "--hosts").unwrap_or(n.min(1000));
    let port: u16 = arg(&args, "--port").unwrap_or(0);
    let max_secs: u64 = arg(&args, "--max-secs").unwrap_or(3600);
    let concurrency: usize = arg(&args, "--concurrency").unwrap_or(16);
    let store: String = arg(&args, "--store").unwrap_or_else(|| "data".into());
    let config: Option<String> = arg(&args, "--config");

    let t = Instant::now();
    let farm = farm::Farm::generate(n, hosts);
    let generated = t.elapsed();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let served = Arc::new(Served {
            docs: farm
                .feeds
                .iter()
                .map(|f| {
                    (
                        Bytes::from(f.body.clone()),
                        HeaderValue::from_static(f.content_type),
                        HeaderValue::from_str(&f.etag).expect("etag"),
                        HeaderValue::from_str(&f.last_modified).expect("date"),
                    )
                })
                .collect(),
            ok: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
        });
        let router = Router::new()
            .route("/f/{file}", get(feed))
            .route("/stats", get(stats))
            .with_state(served);
        // The first address picks the port; the others take the same one.
        let addrs = farm.addrs();
        let first = tokio::net::TcpListener::bind(SocketAddr::new(addrs[0], port))
            .await
            .expect("binding the first farm address");
        let port = first.local_addr().expect("local addr").port();
        let mut listeners = vec![first];
        for a in &addrs[1..] {
            listeners.push(
                tokio::net::TcpListener::bind(SocketAddr::new(*a, port))
                    .await
                    .unwrap_or_else(|e| panic!("binding {a}:{port}: {e}")),
            );
        }
        for l in listeners {
            let router = router.clone();
            tokio::spawn(async move { axum::serve(l, router).await });
        }
        if let Some(path) = &config {
            let text = farm.config_toml(port, &store, "127.0.0.1:0", concurrency);
            std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        }
        println!(
            "feedfarm: {} feeds ({} RSS, {} Atom; {} Arabic), {} items, {} distinct stories, {:.1} MB, on {} hosts {}..{} port {port}, generated in {:.2}s{}",
            farm.feeds.len(),
            farm.feeds.iter().filter(|f| !f.atom).count(),
            farm.feeds.iter().filter(|f| f.atom).count(),
            farm.feeds.iter().filter(|f| f.arabic).count(),
            farm.total_items,
            farm.expected_distinct,
            farm.total_bytes as f64 / 1e6,
            farm.hosts,
            addrs[0],
            addrs[addrs.len() - 1],
            generated.as_secs_f64(),
            config.as_ref().map(|c| format!(", config written to {c}")).unwrap_or_default(),
        );
        println!("ready {}", farm.url(0, port));
        drop(farm);
        tokio::time::sleep(Duration::from_secs(max_secs)).await;
        eprintln!("feedfarm: --max-secs reached, stopping");
    });
}

async fn feed(State(s): State<Arc<Served>>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((body, ctype, etag, lm)) = file
        .strip_suffix(".xml")
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| s.docs.get(i))
    else {
        return (StatusCode::NOT_FOUND, "no such feed\n").into_response();
    };
    let tag = etag.to_str().unwrap_or_default();
    let not_modified = match headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(inm) => inm.split(',').any(|t| t.trim().trim_start_matches("W/") == tag),
        None => headers.get(header::IF_MODIFIED_SINCE) == Some(lm),
    };
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, etag.clone());
    h.insert(header::LAST_MODIFIED, lm.clone());
    if not_modified {
        s.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    s.ok.fetch_add(1, Ordering::Relaxed);
    h.insert(header::CONTENT_TYPE, ctype.clone());
    (StatusCode::OK, h, body.clone()).into_response()
}

async fn stats(State(s): State<Arc<Served>>) -> String {
    format!(
        "200={} 304={}\n",
        s.ok.load(Ordering::Relaxed),
        s.not_modified.load(Ordering::Relaxed)
    )
}
