//! A slow, growing feed farm for fault tests: N synthetic RSS feeds with
//! Arabic titles on 127.0.0.1, each answering after a delay, each gaining
//! an item every few seconds (so that every poll may bring something new).
//!
//! ```sh
//! cargo run --example testfarm -- --feeds 100 --delay-ms 200-800
//! ```
//!
//! Options: `--feeds N` (default 100), `--port P` (default: a free one),
//! `--delay-ms MIN-MAX` (each answer waits a pseudo-random time in that
//! range; default 200-800), `--new-every SECS` (a new item per feed this
//! often; default 5), `--window W` (items per document; default 20),
//! `--max-secs S` (stops by itself after S seconds; default 3600).
//!
//! Feed `i` is `GET /feed/{i}.xml`; item `j` of every feed has the link
//! `http://farm.test/{i}/{j}` and a date that never changes. Prints
//! `ready http://127.0.0.1:PORT` once listening, then one line per request
//! as it arrives (`GET /feed/7.xml`). `GET /stats` answers
//! `requests=R in_flight=F`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};

struct Farm {
    feeds: usize,
    delay_ms: (u64, u64),
    new_every: Duration,
    window: u64,
    started: Instant,
    started_at: DateTime<Utc>,
    requests: AtomicU64,
    in_flight: AtomicU64,
}

/// Counts a request in flight until dropped (answered or abandoned).
struct Flight<'a>(&'a AtomicU64);

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One line on stdout; a reader that went away is not our problem.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).map(|i| {
        args.get(i + 1)
            .cloned()
            .unwrap_or_else(|| panic!("{name} needs a value"))
    })
}

fn parse<T: std::str::FromStr>(name: &str, v: &str) -> T {
    v.parse().unwrap_or_else(|_| panic!("bad value for {name}: {v}"))
}

/// A stable pseudo-random number from `n` (splitmix64).
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Farm {
    /// The newest item number of every feed now; documents carry the last
    /// `window` items up to it.
    fn newest(&self) -> u64 {
        self.window + self.started.elapsed().as_secs() / self.new_every.as_secs().max(1)
    }

    fn document(&self, feed: usize) -> String {
        let newest = self.newest();
        let every = self.new_every.as_secs().max(1) as i64;
        let mut items = String::new();
        for j in (newest.saturating_sub(self.window - 1)..=newest).rev() {
            // Item j's date: fixed, `every` seconds apart, the first window
            // before the farm started.
            let date = self.started_at + chrono::Duration::seconds((j as i64 - self.window as i64) * every);
            items.push_str(&format!(
                "<item><title>المصدر {feed}: خبر رقم {j}</title><link>http://farm.test/{feed}/{j}</link>\
                 <guid>http://farm.test/{feed}/{j}</guid><pubDate>{}</pubDate>\
                 <description>تفاصيل الخبر رقم {j} كما نشرها المصدر {feed}، مع نص عربي يكفي لملء الملخص.</description></item>",
                date.to_rfc2822()
            ));
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>المصدر {feed}</title>\
             <link>http://farm.test/{feed}/</link><description>مزرعة خلاصات للاختبار</description>{items}</channel></rss>"
        )
    }
}

async fn feed(State(farm): State<Arc<Farm>>, Path(file): Path<String>) -> Response {
    let n = farm.requests.fetch_add(1, Ordering::Relaxed);
    farm.in_flight.fetch_add(1, Ordering::Relaxed);
    let _flight = Flight(&farm.in_flight);
    say(&format!("GET /feed/{file}"));
    let Some(i) = file
        .strip_suffix(".xml")
        .and_then(|i| i.parse::<usize>().ok())
        .filter(|i| *i < farm.feeds)
    else {
        return (StatusCode::NOT_FOUND, "no such feed\n").into_response();
    };
    let (lo, hi) = farm.delay_ms;
    let delay = lo + mix(n) % (hi - lo + 1);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    (
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
        farm.document(i),
    )
        .into_response()
}

async fn stats(State(farm): State<Arc<Farm>>) -> String {
    format!(
        "requests={} in_flight={}\n",
        farm.requests.load(Ordering::Relaxed),
        farm.in_flight.load(Ordering::Relaxed)
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let feeds: usize = arg(&args, "--feeds").map_or(100, |v| parse("--feeds", &v));
    let port: u16 = arg(&args, "--port").map_or(0, |v| parse("--port", &v));
    let delay_ms = arg(&args, "--delay-ms").map_or((200, 800), |v| {
        let (lo, hi) = v.split_once('-').expect("--delay-ms MIN-MAX");
        let (lo, hi): (u64, u64) = (parse("--delay-ms", lo), parse("--delay-ms", hi));
        assert!(lo <= hi, "--delay-ms: MIN above MAX");
        (lo, hi)
    });
    let new_every: u64 = arg(&args, "--new-every").map_or(5, |v| parse("--new-every", &v));
    let window: u64 = arg(&args, "--window").map_or(20, |v| parse("--window", &v));
    let max_secs: u64 = arg(&args, "--max-secs").map_or(3600, |v| parse("--max-secs", &v));
    assert!(window >= 1, "--window must be at least 1");

    let farm = Arc::new(Farm {
        feeds,
        delay_ms,
        new_every: Duration::from_secs(new_every),
        window,
        started: Instant::now(),
        started_at: Utc::now(),
        requests: AtomicU64::new(0),
        in_flight: AtomicU64::new(0),
    });
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let router = Router::new()
            .route("/feed/{file}", get(feed))
            .route("/stats", get(stats))
            .with_state(farm);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("binding the farm's port");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, router).await });
        say(&format!("ready http://{addr}"));
        tokio::time::sleep(Duration::from_secs(max_secs)).await;
        eprintln!("testfarm: --max-secs reached, stopping");
    });
}
