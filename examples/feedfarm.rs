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
//! `--full-text` makes every item link a farm-served article page (its link
//! made relative, so it resolves to the feed's own host: shared wire stories
//! then stay one item per host) at `/a/...`, a deterministic news page with
//! navigation, share buttons and a footer around six paragraphs, and writes
//! `full_text = true` on every `[[feed]]` of the config.
//!
//! `--small` serves small headline documents that change by rounds (the
//! 100,000-feed simulation; see `Churn` in `support/farm.rs` for what they
//! hold): round 0 lasts `--first-round-secs F` (default: `--round-secs`)
//! from `ready`, then a round every `--round-secs P` (default 900); at each
//! round a `--share S` (default 0.2) of the feeds, chosen by the seed, gain
//! one to three items at the top and drop as many. Every answer carries
//! `Cache-Control: max-age` = the seconds to the next round, so a daemon
//! whose `interval` is the 1m floor polls every feed once per round, at its
//! start. Documents are built per request (the farm holds no bodies; a 304
//! costs a hash). `GET /round` answers `round=R next_in=SECS`; `GET
//! /expected?round=R` the distinct stories shown up to round R (what the
//! store must hold if every feed was polled every round).
//!
//! Prints one summary line, then `ready http://ADDR:PORT/f/0.xml` once every
//! listener is up. `GET /stats` on any address answers `200=X 304=Y` (and
//! ` round=R last=UNIX_SECS`, the time of the latest feed request, with
//! `--small`).
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
    let full_text = args.iter().any(|a| a == "--full-text");
    if args.iter().any(|a| a == "--small") {
        let period: f64 = arg(&args, "--round-secs").unwrap_or(900.0);
        let small = Small {
            churn: farm::Churn {
                n,
                hosts: hosts.clamp(1, n.max(1)),
                share: arg(&args, "--share").unwrap_or(0.2),
            },
            first: arg(&args, "--first-round-secs").unwrap_or(period),
            period,
            start: Instant::now(),
            ok: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
            last: AtomicU64::new(0),
        };
        return small_main(small, port, max_secs, config, &store, concurrency);
    }

    let t = Instant::now();
    let mut farm = farm::Farm::generate(n, hosts);
    if full_text {
        let absolute =
            regex::bytes::Regex::new(r"https?://[^/<>\x22\]\s]*\.example(?::\d+)?/").expect("regex");
        for f in &mut farm.feeds {
            f.body = absolute.replace_all(&f.body, &b"/a/"[..]).into_owned();
            f.etag = format!("\"ft-{}\"", f.etag.trim_matches('"'));
        }
    }
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
            .route("/a/{*path}", get(article))
            .route("/stats", get(stats))
            .with_state(served);
        let addrs = farm.addrs();
        let (listeners, port) = bind_all(&addrs, port).await;
        for l in listeners {
            let router = router.clone();
            tokio::spawn(async move { axum::serve(l, router).await });
        }
        if let Some(path) = &config {
            let mut text = farm.config_toml(port, &store, "127.0.0.1:0", concurrency);
            if full_text {
                text = text.replace("[[feed]]\n", "[[feed]]\nfull_text = true\n");
            }
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

/// Listeners on every farm address: the first picks the port (0: any free
/// one), the others take the same one. Returns them with that port.
async fn bind_all(addrs: &[std::net::IpAddr], port: u16) -> (Vec<tokio::net::TcpListener>, u16) {
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
    (listeners, port)
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

/// A news page for `--full-text`: the same path always gives the same page.
async fn article(Path(path): Path<String>) -> Response {
    const AR: &[&str] = &[
        "الحكومة",
        "البرلمان",
        "الانتخابات",
        "الرئيس",
        "المعارضة",
        "الاتفاق",
        "المفاوضات",
        "السلام",
        "الاقتصاد",
        "الميزانية",
        "الإصلاح",
        "الدستور",
        "المحكمة",
        "الشعب",
        "الدولة",
        "القاهرة",
        "قال",
        "أعلن",
        "أكد",
        "في",
        "على",
        "من",
        "إلى",
        "مع",
        "بعد",
        "خلال",
        "اليوم",
        "الأسبوع",
    ];
    const EN: &[&str] = &[
        "government",
        "parliament",
        "election",
        "president",
        "opposition",
        "agreement",
        "talks",
        "peace",
        "economy",
        "budget",
        "reform",
        "court",
        "people",
        "state",
        "said",
        "announced",
        "the",
        "a",
        "of",
        "in",
        "on",
        "with",
        "after",
        "during",
        "today",
        "week",
        "minister",
    ];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    let mut rng = farm::Rng::new(h);
    let arabic = path.bytes().any(|b| b >= 0x80) || h % 5 < 3;
    let words = if arabic { AR } else { EN };
    let mut text = |n: usize| (0..n).map(|_| rng.pick(words)).collect::<Vec<_>>().join(" ");
    let title = text(8);
    let paragraphs: String = (0..6).map(|_| format!("<p>{}.</p>\n", text(60))).collect();
    let (lang, dir, share, more) = if arabic {
        (
            "ar",
            "rtl",
            "حصة فيسبوك تويتر واتساب",
            "للمزيد من الأخبار، زوروا موقعنا",
        )
    } else {
        (
            "en",
            "ltr",
            "Share Facebook Twitter Email",
            "For more news, visit our site",
        )
    };
    let body = format!(
        "<!doctype html><html lang=\"{lang}\" dir=\"{dir}\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta property=\"og:site_name\" content=\"Farm News\"><script>var x = 1;</script></head><body>\
         <header><nav><a href=\"/\">Home</a> <a href=\"/world\">World</a> <a href=\"/sport\">Sport</a></nav></header>\
         <main><article><h1>{title}</h1><div class=\"share\">{share}</div>\
         <figure><img src=\"/img/{h}.jpg\" alt=\"{title}\"><figcaption>{title}</figcaption></figure>\
         {paragraphs}<p>{more}</p></article>\
         <aside><h3>Related</h3><ul><li><a href=\"/1\">{t1}</a></li><li><a href=\"/2\">{t2}</a></li></ul></aside></main>\
         <footer>© Farm News</footer></body></html>",
        t1 = text(6),
        t2 = text(6),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// The `--small` farm: documents built per request from the round.
struct Small {
    churn: farm::Churn,
    first: f64,
    period: f64,
    /// When the farm was ready: round 0 starts.
    start: Instant,
    ok: AtomicU64,
    not_modified: AtomicU64,
    /// Wall-clock time of the latest feed request, in microseconds since
    /// the epoch: a driver tells a round's end from it.
    last: AtomicU64,
}

impl Small {
    /// The current round and the seconds to the next.
    fn round(&self) -> (u64, f64) {
        let t = self.start.elapsed().as_secs_f64();
        if t < self.first {
            return (0, self.first - t);
        }
        let k = ((t - self.first) / self.period).floor();
        (1 + k as u64, self.first + (k + 1.0) * self.period - t)
    }
}

fn small_main(
    mut small: Small,
    port: u16,
    max_secs: u64,
    config: Option<String>,
    store: &str,
    concurrency: usize,
) {
    let t = Instant::now();
    let churn = &small.churn;
    // Round 0 as served, for the summary (built again per request).
    let (bytes, items) = std::thread::scope(|s| {
        let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
        let parts: Vec<_> = (0..threads)
            .map(|k| {
                s.spawn(move || {
                    (k..churn.n)
                        .step_by(threads)
                        .fold((0usize, 0usize), |(b, it), i| {
                            (b + churn.doc(i, 0).body.len(), it + churn.shape(i).2)
                        })
                })
            })
            .collect();
        parts
            .into_iter()
            .map(|h| h.join().expect("generator thread"))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    let generated = t.elapsed();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let addrs = small.churn.addrs();
        let (listeners, port) = bind_all(&addrs, port).await;
        if let Some(path) = &config {
            let text = small.churn.config_toml(port, store, "127.0.0.1:0", concurrency);
            std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {path}: {e}"));
        }
        println!(
            "feedfarm: {} small feeds ({} Atom), round 0: {items} items, {:.1} MB, on {} hosts {}..{} port {port}; \
             a round every {} s (the first after {} s), {:.0}% of feeds changed per round; generated in {:.2}s{}",
            small.churn.n,
            small.churn.n.div_ceil(3),
            bytes as f64 / 1e6,
            small.churn.hosts,
            addrs[0],
            addrs[addrs.len() - 1],
            small.period,
            small.first,
            small.churn.share * 100.0,
            generated.as_secs_f64(),
            config.as_ref().map(|c| format!(", config written to {c}")).unwrap_or_default(),
        );
        small.start = Instant::now();
        let served = Arc::new(small);
        let router = Router::new()
            .route("/f/{file}", get(small_feed))
            .route("/stats", get(small_stats))
            .route("/round", get(small_round))
            .route("/expected", get(small_expected))
            .with_state(served.clone());
        for l in listeners {
            let router = router.clone();
            tokio::spawn(async move { axum::serve(l, router).await });
        }
        println!("ready {}", served.churn.url(0, port));
        tokio::time::sleep(Duration::from_secs(max_secs)).await;
        eprintln!("feedfarm: --max-secs reached, stopping");
    });
}

async fn small_feed(State(s): State<Arc<Small>>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = file
        .strip_suffix(".xml")
        .and_then(|i| i.parse::<usize>().ok())
        .filter(|&i| i < s.churn.n)
    else {
        return (StatusCode::NOT_FOUND, "no such feed\n").into_response();
    };
    let (round, left) = s.round();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    s.last.fetch_max(now, Ordering::Relaxed);
    let etag = s.churn.etag(i, round);
    let lm = farm::Churn::http_date(s.churn.updated(i, round));
    let not_modified = match headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(inm) => inm.split(',').any(|t| t.trim().trim_start_matches("W/") == etag),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .is_some_and(|v| v.as_bytes() == lm.as_bytes()),
    };
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("etag"));
    h.insert(header::LAST_MODIFIED, HeaderValue::from_str(&lm).expect("date"));
    // Due again at the next round, not before.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("max-age={}", left.ceil() as u64)).expect("max-age"),
    );
    if not_modified {
        s.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    s.ok.fetch_add(1, Ordering::Relaxed);
    let doc = s.churn.doc(i, round);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(doc.content_type));
    (StatusCode::OK, h, doc.body).into_response()
}

async fn small_stats(State(s): State<Arc<Small>>) -> String {
    format!(
        "200={} 304={} round={} last={:.6}\n",
        s.ok.load(Ordering::Relaxed),
        s.not_modified.load(Ordering::Relaxed),
        s.round().0,
        s.last.load(Ordering::Relaxed) as f64 / 1e6
    )
}

async fn small_round(State(s): State<Arc<Small>>) -> String {
    let (round, left) = s.round();
    format!("round={round} next_in={left:.3}\n")
}

async fn small_expected(
    State(s): State<Arc<Small>>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> String {
    let round = q.get("round").and_then(|r| r.parse().ok()).unwrap_or(s.round().0);
    let s = s.clone();
    let n = tokio::task::spawn_blocking(move || s.churn.distinct_until(round))
        .await
        .expect("counting");
    format!("{n}\n")
}

async fn stats(State(s): State<Arc<Served>>) -> String {
    format!(
        "200={} 304={}\n",
        s.ok.load(Ordering::Relaxed),
        s.not_modified.load(Ordering::Relaxed)
    )
}
